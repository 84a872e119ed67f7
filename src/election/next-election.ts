/**
 * The wait behind `Elector.waitForLeadership()` when the elector does not
 * lead now: resolves with the next `elected` event whose term is still on,
 * on the clock, when the promise settles: the check runs in a microtask
 * after the event's delivery, so listeners that stalled the event loop
 * after this one are seen (a term that ended meanwhile is skipped, and the
 * wait goes on). Rejects with `StoppedError` on `stop()` or with the signal's
 * reason on abort. It always removes its listeners, so repeated aborted
 * waits leave nothing behind.
 */
import { StoppedError } from '../errors.js';
import type { ElectedEvent, ElectorState, StateEvent } from './events.js';

/** The slice of the Elector this needs. */
export interface ElectionEvents {
  /** This elector's term while it leads, computed on the clock. */
  readonly term: number | null;
  on(event: 'elected', listener: (e: ElectedEvent) => void): unknown;
  on(event: 'state', listener: (e: StateEvent) => void): unknown;
  off(event: 'elected', listener: (e: ElectedEvent) => void): unknown;
  off(event: 'state', listener: (e: StateEvent) => void): unknown;
}

export function nextElection(
  elector: ElectionEvents,
  signal: AbortSignal | undefined,
): Promise<ElectedEvent> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (): void => {
      settled = true;
      elector.off('elected', onElected);
      elector.off('state', onState);
      signal?.removeEventListener('abort', onAbort);
    };
    const onElected = (event: ElectedEvent): void => {
      if (event.signal.aborted) return; // that term is already over: keep waiting
      queueMicrotask(() => {
        if (settled) return;
        if (event.signal.aborted || elector.term !== event.term) return; // over meanwhile: wait on
        done();
        resolve(event);
      });
    };
    const onState = ({ to }: { to: ElectorState }): void => {
      if (to !== 'stopped') return;
      done();
      reject(new StoppedError('Elector stopped before it was elected'));
    };
    const onAbort = (): void => {
      done();
      reject(signal?.reason as Error);
    };
    elector.on('elected', onElected);
    elector.on('state', onState);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
