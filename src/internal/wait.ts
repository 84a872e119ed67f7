import type { Clock } from './clock.js';

/**
 * Resolves after `ms`, or as soon as `wake` is called, or rejects with the
 * signal's reason when `signal` aborts. Nothing is left scheduled afterwards.
 * `keepAlive`: whether the timer holds the process open. Waits a caller is
 * awaiting (`lock()`, iterating `watch()`) do; the elector's background waits
 * do not.
 */
export function wait(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
  register?: (wake: () => void) => () => void,
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
    const timer = clock.setTimeout(
      () => {
        finish();
        resolve('timeout');
      },
      Math.max(0, ms),
      keepAlive,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    const unregister = register?.(() => {
      finish();
      resolve('woken');
    });
  });
}
