/**
 * Deliberately unsafe electors, test-only and never shipped, for the
 * must-fire tier: the checkers must report violations when these run.
 * - `no-deadline`: believes it leads until a renewal fails (the common toy).
 * - `reply-time`: measures validity from the reply instead of the send.
 */
import { OwnershipToken, type LeaseStore } from '../../src/index.js';

export type NaiveMode = 'no-deadline' | 'reply-time';

export interface NaiveHooks {
  elected(term: number, deadlineMs: number): void;
  extended(term: number, deadlineMs: number): void;
  revoked(term: number, reason: string): void;
}

export class NaiveElector {
  #term: number | null = null;
  #deadline = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly store: LeaseStore,
    private readonly o: {
      election: string;
      identity: string;
      ttlMs: number;
      renewMs: number;
      retryMs: number;
      mode: NaiveMode;
    },
    private readonly hooks: NaiveHooks,
  ) {}

  get isLeader(): boolean {
    if (this.#term === null) return false;
    return this.o.mode === 'no-deadline' || performance.now() < this.#deadline;
  }

  get term(): number | null {
    return this.isLeader ? this.#term : null;
  }

  start(): void {
    void this.#loop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #loop(): Promise<void> {
    const token = OwnershipToken.generate();
    while (!this.#stopped) {
      if (this.#term === null) {
        const r = await this.store
          .acquire({
            name: this.o.election,
            token,
            ttlMs: this.o.ttlMs,
            identity: this.o.identity,
            data: '',
          })
          .catch(() => null);
        if (r?.acquired) {
          this.#term = r.term;
          this.#deadline = performance.now() + this.o.ttlMs - 12; // from the reply: wrong on purpose
          this.hooks.elected(r.term, this.o.mode === 'no-deadline' ? 1e12 : this.#deadline);
        }
      } else {
        const lease = { name: this.o.election, token, term: this.#term };
        const r = await this.store.renew(lease, this.o.ttlMs).catch(() => 'error' as const);
        if (r === 'renewed') {
          this.#deadline = performance.now() + this.o.ttlMs - 12; // reply time: wrong on purpose
          this.hooks.extended(this.#term, this.o.mode === 'no-deadline' ? 1e12 : this.#deadline);
        } else {
          const term = this.#term;
          this.#term = null;
          this.hooks.revoked(term, 'renew failed');
        }
      }
      await new Promise(
        (r) => (this.#timer = setTimeout(r, this.#term === null ? this.o.retryMs : this.o.renewMs)),
      );
    }
  }
}
