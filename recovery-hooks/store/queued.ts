// Who wants to know that outbox messages were committed: the notifier and forward workers, so that a message goes
// out at once instead of at their next poll. Fired by the stores after the COMMIT, never inside the transaction.
export class QueuedSignal {
  readonly #listeners: (() => void)[] = [];

  on(listener: () => void): void {
    this.#listeners.push(listener);
  }

  fire(): void {
    for (const l of this.#listeners) l();
  }
}
