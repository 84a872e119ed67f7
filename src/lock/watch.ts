/**
 * A stream of holder changes for one name, for any {@link LeaseStore}: the
 * current holder first, then each new acquisition (a new term), each data
 * update of the same holder (`updateData`) and each vacancy (`null`). It is driven by the store's notifications and by the
 * holder's expiry time, not by a tight poll: between changes it costs one
 * read per lease period (when the holder's reported ttl runs out) plus a
 * safety read every `pollMs` while the name is vacant, since notifications
 * can be lost on reconnect. The subscription follows the shared policy of
 * {@link WakeSubscription} (bounded, retried, closed with the watch).
 */
import type { Clock } from '../internal/clock.js';
import { isolate } from '../internal/guard.js';
import { withTimeout } from '../internal/timeout.js';
import { isPermanent } from './error-kinds.js';
import type { LeaseHolder, LeaseStore } from './lease-store.js';
import { WakeSubscription } from './wake-subscription.js';

export interface WatchSettings {
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
  readonly requestTimeoutMs: number;
  /** Wait after a failed read (and first delay before re-subscribing). */
  readonly retryMs: number;
  /** Safety re-read interval while vacant (or without notifications). */
  readonly pollMs: number;
  /** Reports transient read and subscribe failures; the watch keeps going. */
  readonly onError?: ((error: unknown) => void) | undefined;
  /** Every successful read, changed or not. */
  readonly onRead?: (() => void) | undefined;
  /** Whether the watch's timers hold the process open. @default true */
  readonly keepAlive?: boolean;
}

export async function* watchHolders(
  store: LeaseStore,
  name: string,
  s: WatchSettings,
): AsyncGenerator<LeaseHolder | null> {
  const wakeup = new WakeSubscription(store, name, {
    clock: s.clock,
    timeoutMs: s.requestTimeoutMs,
    retryMs: s.retryMs,
    signal: s.signal,
    onError: s.onError,
    keepAlive: s.keepAlive ?? true,
    wakeOnUpdate: true,
  });
  try {
    await wakeup.ready;
    let last: string | null | undefined;
    while (!s.signal?.aborted) {
      wakeup.reset();
      let holder: LeaseHolder | null;
      try {
        holder = await withTimeout(store.read(name), s.requestTimeoutMs, s.clock, 'read');
      } catch (error) {
        if (isPermanent(error)) throw error;
        const { onError } = s;
        if (onError)
          isolate(
            () => onError(error),
            () => undefined,
          ); // the caller's callback may throw
        if (!(await wakeup.sleep(s.retryMs, false))) return;
        continue;
      }
      s.onRead?.();
      const current = holder ? `${holder.term}:${holder.data}` : null;
      if (current !== last) {
        last = current;
        yield holder;
      }
      if (!(await wakeup.sleep(wakeup.quietDelay(holder ? holder.remainingMs + 1 : s.pollMs))))
        return;
    }
  } finally {
    wakeup.close();
  }
}
