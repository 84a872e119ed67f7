/**
 * Hand-back of acquisitions that timed out. A timed-out acquire statement may
 * still apply later (a stalled server runs it when it resumes), granting a
 * lease nobody will use; the hand-back clears that grant if it shows up.
 *
 * Contract: for each request, a compare-and-clear on its token (a no-op
 * unless that grant exists) after 0.25, 0.5, 1, 2 ... seconds, until the
 * request's ttl has passed or a release succeeded (returned a row); a failed
 * attempt counts as not released. Timers are unref'd (they never keep the
 * process alive) and `close()` cancels them all; nothing is scheduled after.
 */
import type { AcquireRequest, LeaseRef } from '../lease-store.js';

export class HandBacks {
  readonly #release: (lease: LeaseRef) => Promise<unknown[]>;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  /** `release` runs the release statement on a fresh pooled connection and resolves with its rows. */
  constructor(release: (lease: LeaseRef) => Promise<unknown[]>) {
    this.#release = release;
  }

  /** Starts handing back the grant `request` may still receive. */
  add(request: AcquireRequest): void {
    const lease = { name: request.name, token: request.token, term: 0 };
    const until = performance.now() + request.ttlMs;
    const attempt = (delayMs: number): void => {
      if (this.#closed || performance.now() + delayMs > until) return;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (this.#closed) return;
        this.#release(lease).then(
          (rows) => {
            if (rows.length === 0) attempt(delayMs * 2);
          },
          () => attempt(delayMs * 2),
        );
      }, delayMs);
      timer.unref?.();
      this.#timers.add(timer);
    };
    attempt(250);
  }

  /** Cancels every pending attempt; later `add()` calls do nothing. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
