import type { Clock } from './clock.js';

/**
 * Resolves after `ms`, or when `wake` says (at once or after a short delay), or rejects with the
 * signal's reason when `signal` aborts. Nothing is left scheduled afterwards.
 * `keepAlive`: whether the timer holds the process open. Waits a caller is
 * awaiting (`lock()`, iterating `watch()`) do; the elector's background waits
 * do not.
 */
export function wait(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
  register?: (wake: (afterMs?: number) => void) => () => void,
  keepAlive = true,
): Promise<'timeout' | 'woken'> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const finish = (): void => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unregister?.();
    };
    const onAbort = (): void => {
      finish();
      reject(signal?.reason as Error);
    };
    const end = (outcome: 'timeout' | 'woken') => (): void => {
      finish();
      resolve(outcome);
    };
    let timer = clock.setTimeout(end('timeout'), Math.max(0, ms), keepAlive);
    let due = clock.now() + Math.max(0, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    // `wake()` ends the wait now; `wake(afterMs)` ends it that much later (never later than planned).
    const unregister = register?.((afterMs) => {
      if (afterMs === undefined || afterMs <= 0) {
        end('woken')();
        return;
      }
      if (clock.now() + afterMs >= due) return;
      clock.clearTimeout(timer);
      due = clock.now() + afterMs;
      timer = clock.setTimeout(end('woken'), afterMs, keepAlive);
    });
  });
}
