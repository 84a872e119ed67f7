import { StoreTimeoutError } from '../errors.js';
import type { Clock } from './clock.js';

/**
 * Races `promise` against a per-request timeout on `clock`. On timeout it
 * rejects with {@link StoreTimeoutError} (ambiguous: the request may still
 * run). A reply that arrives later is handed to `onLate` so the caller can
 * undo it (for example release a lease granted after we gave up); a late
 * rejection is swallowed. Nothing is left unhandled.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  clock: Clock,
  operation: string,
  onLate?: (value: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = clock.setTimeout(() => {
      timedOut = true;
      reject(new StoreTimeoutError(operation, timeoutMs));
    }, timeoutMs);
    promise.then(
      (value) => {
        if (timedOut) {
          onLate?.(value);
          return;
        }
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (timedOut) return;
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
