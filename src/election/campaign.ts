/**
 * The campaign loop: attempt, then either lead until the term is over or
 * wait until the holder's lease (or a hand-off reservation) would expire,
 * woken sooner by a release notification.
 *
 * Contract: the loop never awaits user code. While leading it awaits only
 * `term.ended`, which exists before any event about the term is emitted, so
 * `resign()` or `stop()` from a listener or task ends the wait whenever they
 * run. It exits promptly once the stop signal aborts (a pending subscription
 * or wait does not hold it). After a store failure it waits the full retry
 * delay, ignoring notifications (see docs/safety.md, "No grab-and-hand-back loop").
 */
import { jitter } from '../internal/random.js';
import { attemptAcquire } from '../lock/acquire.js';
import { withTimeout } from '../internal/timeout.js';
import { WakeSubscription } from '../lock/wake-subscription.js';
import type { ElectorMachine } from './machine.js';
import { LeaderTerm } from './term.js';

export async function campaign(m: ElectorMachine, ready: () => void): Promise<void> {
  const { store, clock, election, retryMs, timing } = m.o;
  const wakeup = new WakeSubscription(store, election, {
    clock,
    timeoutMs: timing.requestTimeoutMs,
    retryMs,
    signal: m.stopController.signal,
    onError: (error) => m.report(error, 'no change notifications; waking at lease expiry only'),
  });
  /** Refused since it last led: may take a fair hand-off reservation. */
  const waiting = { value: false };
  try {
    await wakeup.ready;
    while (!m.stopped) {
      const sitOut = m.sitOutUntil - clock.now();
      // After resign(), sit out even if notifications arrive: others get the first chance.
      if (sitOut > 0 && !(await wakeup.sleep(sitOut, false))) break;
      if (m.stopped) break;
      wakeup.reset();
      const next = await attempt(m, waiting);
      ready();
      if (next instanceof LeaderTerm) {
        await next.ended;
        continue;
      }
      const failed = m.failingSince !== null;
      if (wakeup.woken && !failed) continue;
      if (!(await wakeup.sleep(failed ? next : wakeup.quietDelay(next), !failed))) break;
    }
  } finally {
    wakeup.close();
  }
}

/** One acquisition attempt: the new term, or how long to wait before the next attempt. */
async function attempt(
  m: ElectorMachine,
  waiting: { value: boolean },
): Promise<LeaderTerm | number> {
  const { store, clock, identity, timing, election, retryMs, retryJitterMs } = m.o;
  const data = m.data;
  m.becomeCandidate();
  let outcome: Awaited<ReturnType<typeof attemptAcquire>>;
  try {
    outcome = await attemptAcquire(store, clock, {
      name: election,
      identity,
      data,
      timing,
      waiting: waiting.value,
    });
  } catch (error) {
    m.becomeFollower();
    m.metrics.attempt('error');
    m.storeFailed();
    return m.failureDelay(error);
  }
  m.storeSucceeded();
  if (outcome.granted) {
    m.metrics.attempt('acquired');
    if (m.stopped) {
      // Granted after stop(): hand it straight back, and let stop() (which awaits this loop)
      // wait for that, bounded: a client closed right after stop() would drop the release
      // and leave the name held until its ttl ran out.
      await withTimeout(
        Promise.resolve().then(() => store.release(outcome.lease)),
        timing.requestTimeoutMs,
        clock,
        'release',
      ).catch(() => undefined);
      m.becomeFollower();
      return 0;
    }
    waiting.value = false;
    const term = m.elect(outcome.lease, outcome.sentAt, data);
    // updateData() was called while the acquisition was in flight: publish the newer data now.
    if (m.data !== data) m.republish(term);
    return term;
  }
  m.metrics.attempt('held');
  m.becomeFollower();
  waiting.value = true;
  if (outcome.holder) m.observeHolder(outcome.holder);
  // Sleep until the holder's lease (or a hand-off reservation for earlier waiters) would
  // expire; a release notification wakes us sooner.
  const expiry = outcome.holder ? outcome.holder.remainingMs : (outcome.reservedMs ?? retryMs);
  return expiry + jitter(retryJitterMs);
}
