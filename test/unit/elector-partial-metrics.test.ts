/**
 * A metrics sink lacking elected() (a plain-JS sink): the missing method is a no-op, so the
 * elector emits 'elected', and after the lease is lost (revoked 'lost') it campaigns again.
 * Before the fix the campaign loop died inside elect() and never campaigned again.
 */
import { expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import type { ElectionMetrics } from '../../src/metrics/types.js';
import { checkEventLog, recordEvents } from '../helpers/event-log.js';
import { FakeClock } from '../helpers/fake-clock.js';

it('lease lost -> never campaigns again; revoked without elected', async () => {
  const clock = new FakeClock();
  const store = new MemoryLeaseStore({ clock });
  const noop = (): void => undefined;
  const sink = {
    attempt: noop,
    revoked: noop,
    renewed: noop,
    renewFailed: noop,
    leaderChanged: noop,
    close: noop,
  };
  const elector = new Elector({
    store,
    clock,
    election: 'e',
    identity: 'a',
    ttlMs: 1000,
    renewMs: 250,
    retryMs: 200,
    retryJitterMs: 0,
    metrics: { forElector: () => sink as unknown as ElectionMetrics },
  });
  const log = recordEvents(elector);
  await elector.start();
  expect(elector.isLeader).toBe(true);
  store.clear(); // lease vanishes: the next renewal answers 'expired' -> revoked 'lost'
  await clock.advance(300);
  expect(log).toContainEqual(expect.objectContaining({ e: 'revoked', reason: 'lost' }));
  await clock.advance(5000); // the name is free: a live elector would be elected again
  const problems = checkEventLog(log);
  expect({ isLeader: elector.isLeader, problems }).toEqual({ isLeader: true, problems: [] });
});
