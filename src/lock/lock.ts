import { encodeData } from './data.js';
import type { LeaseKeeper } from './lease-keeper.js';

/**
 * A held lock. Renews itself in the background until released or lost.
 * Check `isValid` (computed from the monotonic clock at each read) right
 * before a side effect, and pass `term` (the fencing token) to the resource
 * so it can refuse writes from an older holder: only fencing protects
 * against a holder that was paused past its deadline.
 */
export class Lock implements AsyncDisposable {
  readonly #keeper: LeaseKeeper;
  /** The lock name. */
  readonly name: string;
  /** The fencing token: strictly greater than every term issued before for this name. */
  readonly term: number;

  /** @internal */
  constructor(keeper: LeaseKeeper) {
    this.#keeper = keeper;
    this.name = keeper.lease.name;
    this.term = keeper.lease.term;
  }

  /** Aborted when the lock can no longer be trusted (deadline missed, lost, released); reason is a `LockLostError`. */
  get signal(): AbortSignal {
    return this.#keeper.signal;
  }

  /** Validity left on the local monotonic clock, in ms; 0 once invalid. */
  get remainingMs(): number {
    return this.#keeper.remainingMs;
  }

  /** Whether the lock is still trusted, computed now. */
  get isValid(): boolean {
    return this.#keeper.valid;
  }

  /**
   * Publishes new data with the lock (any JSON value, as `data` in the lock
   * options): same term, same expiry; watchers see it. Resolves `false` if
   * the lock is no longer valid (or turned out lost, which ends it).
   * Rejects with a `StoreError` if the store could not confirm it.
   */
  updateData(data: unknown): Promise<boolean> {
    let encoded: string;
    try {
      encoded = encodeData('data', data);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#keeper.update(encoded);
  }

  /** Stops refreshing and compare-and-deletes the lease; `false` if it was no longer ours. Idempotent. */
  release(): Promise<boolean> {
    return this.#keeper.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
