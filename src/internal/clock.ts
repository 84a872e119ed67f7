/**
 * Time as tenure sees it: a monotonic millisecond clock plus a timer
 * scheduler, injected so unit tests can drive time deterministically.
 * `now()` must never go backwards and must keep advancing while the process
 * is stopped (SIGSTOP) or the event loop is blocked; `performance.now()` does.
 * Wall-clock time (`Date.now()`) is never used for validity.
 */
export interface Clock {
  /** Monotonic milliseconds (fractional allowed). */
  now(): number;
  /**
   * Runs `fn` after `ms`. With `keepAlive` false (the default) the timer does
   * not keep the process alive: background renewals and deadlines must not
   * hold a process open. Waits that a caller is awaiting pass `true`.
   */
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque timer handle. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/** The process clock: `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms, keepAlive = false) {
    const t = setTimeout(fn, ms);
    if (!keepAlive) t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
