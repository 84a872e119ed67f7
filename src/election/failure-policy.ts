/**
 * How long the elector waits after a failed store operation, and since when
 * the store has been failing (for `health()`). Transient failures wait
 * `retryMs` (+ jitter); failures retrying cannot fix (a foreign key at the
 * lease key, permissions, configuration) back off exponentially, capped at
 * 30 s: never a hot loop. Any success resets both.
 */
import type { Clock } from '../internal/clock.js';
import { jitter } from '../internal/random.js';
import { isPermanent } from '../lock/error-kinds.js';

const MAX_BACKOFF_MS = 30_000;

export class FailurePolicy {
  readonly #clock: Clock;
  readonly #retryMs: number;
  readonly #retryJitterMs: number;
  /** Monotonic time since which every store operation failed; null after a success. */
  failingSince: number | null = null;
  #permanentFailures = 0;

  constructor(clock: Clock, retryMs: number, retryJitterMs: number) {
    this.#clock = clock;
    this.#retryMs = retryMs;
    this.#retryJitterMs = retryJitterMs;
  }

  failed(): void {
    this.failingSince ??= this.#clock.now();
  }

  succeeded(): void {
    this.failingSince = null;
    this.#permanentFailures = 0;
  }

  delayAfter(error: unknown): number {
    const retryMs = this.#retryMs;
    if (!isPermanent(error)) return retryMs + jitter(this.#retryJitterMs);
    this.#permanentFailures++;
    const backoff = retryMs * 2 ** (this.#permanentFailures - 1);
    return Math.min(backoff, Math.max(retryMs, MAX_BACKOFF_MS)) + jitter(this.#retryJitterMs);
  }
}
