/**
 * One leadership term of one elector: its lease keeper, its signal and the
 * promise that settles when it is over. A term is created, complete, before
 * any event about it is emitted, so a listener or task that calls back into
 * the elector (`resign()`, `stop()`) always finds it whole; the campaign loop
 * awaits `ended` instead of installing a hook later.
 *
 * Contract: a term ends exactly once (`finish` returns true only the first
 * time); after that it is never valid again, its signal is aborted, and
 * `ended` is resolved. A new acquisition is a new term.
 */
import type { LeaseKeeper } from '../lock/lease-keeper.js';
import type { RevokeReason } from './events.js';

export class LeaderTerm {
  readonly keeper: LeaseKeeper;
  /** The fencing token of this term. */
  readonly term: number;
  /** Resolves with the reason once the term is over. Never rejects. */
  readonly ended: Promise<RevokeReason>;
  /** Monotonic time the last confirmed acquire/renew of this term was sent. */
  confirmedAt: number;
  #reason: RevokeReason | undefined;
  #resolve!: (reason: RevokeReason) => void;

  constructor(keeper: LeaseKeeper, sentAt: number) {
    this.keeper = keeper;
    this.term = keeper.lease.term;
    this.confirmedAt = sentAt;
    this.ended = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Why it ended, or undefined while it lasts. */
  get reason(): RevokeReason | undefined {
    return this.#reason;
  }

  /** Computed now: not ended and the keeper's deadline has not passed. */
  get valid(): boolean {
    return this.#reason === undefined && this.keeper.valid;
  }

  /** Aborted the moment the term ends (or its keeper loses the lease). */
  get signal(): AbortSignal {
    return this.keeper.signal;
  }

  /** Marks the term over; true the first time only. */
  finish(reason: RevokeReason): boolean {
    if (this.#reason !== undefined) return false;
    this.#reason = reason;
    this.#resolve(reason);
    return true;
  }
}
