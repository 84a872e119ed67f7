import type { Clock } from './clock.js';

/**
 * Resolves after `ms`, or as soon as `wake` is called, or rejects with the
 * signal's reason when `signal` aborts. Nothing is left scheduled afterwards.
 */
export function wait(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
  register?: (wake: () => void) => () => void,
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
      true,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    const unregister = register?.(() => {
      finish();
      resolve('woken');
    });
  });
}
