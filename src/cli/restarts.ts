/**
 * What `tenure run` does after its command ended on its own or was stopped
 * by the deadline schedule, within one term:
 *
 * - **Cannot start** (the spawn failed: not found, not executable; reported
 *   as exit 127 or 126, as shells do): give up leadership at once, whatever
 *   `--restart` says, so a healthy host takes over; unless `maxFailures` is
 *   0 (never give up).
 * - **Failed** (non-zero status, including a 126 or 127 that the command's
 *   own shell reported after it started) `maxFailures` times in a row: give
 *   up leadership. A run that lasted {@link HEALTHY_RUN_MS} or longer starts
 *   the count again; `maxFailures` 0 never gives up.
 * - **Stopped by the deadline schedule** (renewals late): start again only
 *   once a renewal has moved the deadline (not a failure of the command).
 * - Otherwise `--restart` decides: restart after a delay that starts at
 *   `--restart-delay-ms` and doubles after each run shorter than
 *   {@link HEALTHY_RUN_MS} (successful or not), up to {@link MAX_DELAY_MS}.
 *
 * Restart lines are rate-limited: at most one restart per second is logged
 * in full; the others are counted and the next full one says how many.
 */
import type { CommandExit } from './supervised-command.js';
import { exitStatus } from './command-env.js';

export type RestartMode = 'always' | 'on-failure' | 'never';

export interface RestartPolicy {
  readonly mode: RestartMode;
  readonly firstDelayMs: number;
  /** Failures in a row after which leadership is given up; 0: never. */
  readonly maxFailures: number;
}

export type Next =
  /** End `tenure run` with the command's status, as `--restart` says. */
  | { readonly kind: 'end'; readonly status: number }
  /** Give up leadership (release) and exit non-zero with the command's status. */
  | { readonly kind: 'give-up'; readonly status: number; readonly why: string }
  | { readonly kind: 'restart'; readonly delayMs: number }
  /** Start again once a renewal has moved the deadline far enough. */
  | { readonly kind: 'after-renewal' };

/** A run at least this long counts as healthy: the backoff and the failure count start again. */
export const HEALTHY_RUN_MS = 30_000;
export const MAX_DELAY_MS = 30_000;
/** At most one restart per this many ms is logged in full. */
export const RESTART_LOG_MS = 1_000;

export class Restarts {
  readonly #policy: RestartPolicy;
  readonly #now: () => number;
  #delayMs: number;
  #failures = 0;
  #loggedAt = -Infinity;
  #unlogged = 0;

  constructor(policy: RestartPolicy, now: () => number) {
    this.#policy = policy;
    this.#now = now;
    this.#delayMs = policy.firstDelayMs;
  }

  /** A new term: the failure count and the backoff start again. */
  newTerm(): void {
    this.#failures = 0;
    this.#delayMs = this.#policy.firstDelayMs;
  }

  /** Failures in a row so far in this term. */
  get failures(): number {
    return this.#failures;
  }

  /** What to do after `exit`, for a run that lasted `ranMs`. */
  next(exit: CommandExit, ranMs: number): Next {
    if (exit.cause === 'deadline') return { kind: 'after-renewal' };
    const status = exitStatus(exit);
    const healthy = ranMs >= HEALTHY_RUN_MS;
    if (healthy) {
      this.#failures = 0;
      this.#delayMs = this.#policy.firstDelayMs;
    }
    const { mode, maxFailures } = this.#policy;
    if (status === 0) this.#failures = 0;
    else this.#failures++;
    if (mode === 'never' || (mode === 'on-failure' && status === 0)) return { kind: 'end', status };
    if (exit.cause === 'spawn' && maxFailures > 0)
      return {
        kind: 'give-up',
        status,
        why: `the command cannot be started (exit code ${status}: ${status === 126 ? 'not executable' : 'not found'})`,
      };
    if (maxFailures > 0 && this.#failures >= maxFailures)
      return {
        kind: 'give-up',
        status,
        why: `the command failed ${this.#failures} time${this.#failures === 1 ? '' : 's'} in a row (--max-failures ${maxFailures})`,
      };
    const delayMs = this.#delayMs;
    if (!healthy) this.#delayMs = Math.min(MAX_DELAY_MS, Math.max(1, this.#delayMs * 2));
    return { kind: 'restart', delayMs };
  }

  /**
   * Whether this restart's lines are logged in full (at most one restart per
   * {@link RESTART_LOG_MS}); otherwise it is counted. Returns the number of
   * restarts not logged since the last full one, or null to stay quiet.
   */
  announce(): number | null {
    const now = this.#now();
    if (now - this.#loggedAt < RESTART_LOG_MS) {
      this.#unlogged++;
      return null;
    }
    this.#loggedAt = now;
    const unlogged = this.#unlogged;
    this.#unlogged = 0;
    return unlogged;
  }
}
