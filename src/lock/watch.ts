/**
 * A stream of holder changes for one name, for any {@link LeaseStore}: the
 * current holder first, then each new acquisition (a new term) and each
 * vacancy (`null`). It is driven by the store's notifications and by the
 * holder's expiry time, not by a tight poll: between changes it costs one
 * read per lease period (when the holder's reported ttl runs out) plus a
 * safety read every `pollMs` while the name is vacant, since notifications
 * can be lost on reconnect.
 */
import { ConfigurationError, LockKeyConflictError, InternalError } from '../errors.js';
import type { Clock } from '../internal/clock.js';
import { withTimeout } from '../internal/timeout.js';
import { wait } from '../internal/wait.js';
import type { LeaseHolder, LeaseStore, Unsubscribe } from './lease-store.js';

export interface WatchSettings {
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
  readonly requestTimeoutMs: number;
  /** Wait after a failed read. */
  readonly retryMs: number;
  /** Safety re-read interval while vacant (or without notifications). */
  readonly pollMs: number;
  /** Reports transient read failures; the watch keeps going. */
  readonly onError?: ((error: unknown) => void) | undefined;
  /** Whether the watch's timers hold the process open. @default true */
  readonly keepAlive?: boolean;
}

export async function* watchHolders(
  store: LeaseStore,
  name: string,
  s: WatchSettings,
): AsyncGenerator<LeaseHolder | null> {
  let woken = false;
  let wake: (() => void) | undefined;
  let unsubscribe: Unsubscribe | undefined;
  try {
    unsubscribe = await store.subscribe(name, () => {
      woken = true;
      wake?.();
    });
  } catch (error) {
    if (isPermanent(error)) throw error;
    s.onError?.(error);
  }
  const register = (w: () => void): (() => void) => {
    wake = w;
    return () => (wake = undefined);
  };
  try {
    let last: number | null | undefined;
    while (!s.signal?.aborted) {
      woken = false;
      let holder: LeaseHolder | null;
      try {
        holder = await withTimeout(store.read(name), s.requestTimeoutMs, s.clock, 'read');
      } catch (error) {
        if (isPermanent(error)) throw error;
        s.onError?.(error);
        if (!(await pause(s, s.retryMs))) return;
        continue;
      }
      const current = holder ? holder.term : null;
      if (current !== last) {
        last = current;
        yield holder;
      }
      if (woken) continue;
      if (!(await pause(s, holder ? holder.remainingMs + 1 : s.pollMs, register))) return;
    }
  } finally {
    unsubscribe?.();
  }
}

/** Waits; false when the signal aborted (the watch then ends quietly). */
async function pause(
  s: WatchSettings,
  ms: number,
  register?: (wake: () => void) => () => void,
): Promise<boolean> {
  try {
    await wait(s.clock, ms, s.signal, register, s.keepAlive ?? true);
    return true;
  } catch {
    return false;
  }
}

/** Errors that retrying cannot fix end the watch. */
export function isPermanent(error: unknown): boolean {
  return (
    error instanceof ConfigurationError ||
    error instanceof LockKeyConflictError ||
    error instanceof InternalError
  );
}
