// SSH failures that an operator must tell apart from a host that is merely down. No imports: core/errors.ts
// classifies them (errorKind) without an import cycle.

/** The host presented a key that is not the pinned one (or none is pinned for it): nothing was sent to it. */
export class HostKeyError extends Error {
  override name = 'HostKeyError';
  constructor(
    readonly host: string,
    /** SHA256 fingerprint of the key the host presented. */
    readonly presented: string,
    /** Why it was refused; the default is the recovery side's original wording. */
    readonly reason = 'does not match the pinned key',
  ) {
    super(`SSH host key of ${host} (${presented}) ${reason}; connection refused`);
  }
}

/** The host refused every key we offered (wrong user, key not in authorized_keys, root login disabled). */
export class SshAuthError extends Error {
  override name = 'SshAuthError';
  constructor(
    readonly host: string,
    readonly user: string,
  ) {
    super(`SSH authentication of ${user}@${host} failed: the host refused the private key`);
  }
}
