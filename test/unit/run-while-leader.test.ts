/**
 * Claim 1 detail: runWhileLeader's unregister function, called from an 'elected' listener
 * (which runs before leader tasks: "leader tasks start after the elected listeners"),
 * does not stop the task from starting for that term: the start was queued during the commit.
 * Also: a task registered from a waitForLeadership continuation starts exactly once per term.
 */
import { expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const make = () => {
  const clock = new FakeClock();
  const store = new MemoryLeaseStore({ clock });
  const e = new Elector({
    store,
    clock,
    election: 'x',
    identity: 'a',
    ttlMs: 1000,
    renewMs: 250,
    retryMs: 200,
    retryJitterMs: 0,
  });
  return { clock, e };
};

it('a task unregistered in an elected listener does not start', async () => {
  const { clock, e } = make();
  const starts: number[] = [];
  const unregister = e.runWhileLeader((_s, term) => void starts.push(term));
  e.on('elected', () => unregister());
  await e.start();
  await settle();
  expect(starts).toEqual([]);
  const stopping = e.stop();
  await clock.advance(100);
  await stopping;
});

it('a task registered after await waitForLeadership() starts once per term', async () => {
  const { clock, e } = make();
  const starts: number[] = [];
  void e.start();
  await e.waitForLeadership();
  e.runWhileLeader((_s, term) => void starts.push(term));
  await settle();
  await e.resign();
  await clock.advance(500);
  expect(starts.length).toBe(2);
  expect(new Set(starts).size).toBe(2);
  const stopping = e.stop();
  await clock.advance(100);
  await stopping;
});
