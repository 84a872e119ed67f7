/**
 * Observe mode (`campaign: false`): follows the holder of the election
 * through `watchHolders` and reports it as the leader, never campaigning.
 *
 * Contract: `ready` is called once the first read has completed, whether it
 * succeeded or failed, so `start()` resolves while the store is unreachable.
 * Every successful read clears the store-failure clock, so health recovers
 * as soon as the store answers again (not only when the leader changes).
 */
import { wait } from '../internal/wait.js';
import { watchHolders } from '../lock/watch.js';
import type { ElectorMachine } from './machine.js';

export async function observe(m: ElectorMachine, ready: () => void): Promise<void> {
  const { store, clock, election, timing, retryMs } = m.o;
  const signal = m.stopController.signal;
  const settings = {
    clock,
    signal,
    requestTimeoutMs: timing.requestTimeoutMs,
    retryMs,
    pollMs: timing.ttlMs,
    keepAlive: false,
    onError: (error: unknown) => {
      m.storeFailed();
      m.report(error);
      ready();
    },
    onRead: () => m.storeSucceeded(),
  };
  while (!signal.aborted) {
    try {
      for await (const holder of watchHolders(store, election, settings)) {
        if (holder) m.observeHolder(holder);
        else m.setLeader(null);
        ready();
      }
    } catch (error) {
      m.storeFailed();
      ready();
      try {
        await wait(clock, m.failureDelay(error), signal, undefined, false);
      } catch {
        break;
      }
    }
  }
}
