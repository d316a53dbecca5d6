// SSH for the exporter (IPMI and SMART on dom0) and the recovery hooks (toolstack restart): one place for the
// client and the host-key pinning.
export { HostKeyError, SshAuthError } from './errors.js';
export { type HostKeyPolicy, type HostKeyVerdict, type SshTarget, checkHostKey, knownHostsAccepts, sshFingerprint } from './hostkey.js';
export { SshClient, SshHostClient, type SshOptions, type SshResult, runOnce } from './client.js';
