/**
 * The fault suite's eviction rows (Redis standalone with a memory limit):
 * another client fills memory with keys that have a TTL right after the
 * leader renewed. Under `volatile-lru` Redis evicts the lease key (it has a
 * TTL too) and an elector started then is granted the name while the leader
 * still trusts its lease until its next renewal: the must-fire row. Under
 * `noeviction` the filler gets `OOM`, the lease stays, and an acquisition
 * that meets `OOM` is retried, not refused: the gate.
 *
 * The ttl is 8 s (renewals every 2 s), so the fill and the newcomer's start
 * fit between two renewals.
 */
import { describe, expect, it } from 'vitest';
import { leaseKeys } from '../../src/lock/redis/keys.js';
import { fillMemory } from '../helpers/redis-server.js';
import { F_RELEASE, type Scenario, type Worker, msBetween, sleep } from './harness.js';
import type { HistoryEvent } from './history.js';
import { evs, t } from './queries.js';
import { scenario } from './scenario-runner.js';

const TTL = 8000;
const memory = (policy: string) => ['--maxmemory', '8mb', '--maxmemory-policy', policy];

/** Resolves right after `leader`'s next confirmed renewal. */
async function nextRenewal(s: Scenario, leader: Worker): Promise<void> {
  const count = () =>
    s.history().filter((e) => e.ev === 'renew_reply' && e.proc === leader.proc && e.result === 'ok')
      .length;
  const before = count();
  const until = Date.now() + TTL;
  while (count() === before) {
    if (Date.now() > until) throw new Error('no renewal');
    await sleep(5);
  }
}

/**
 * Right after the leader's next renewal, fills memory until the lease key is gone or the
 * server answers OOM, and expects `outcome`.
 */
async function fillAfterRenewal(
  s: Scenario,
  outcome: 'done' | 'oom',
): Promise<{ leader: Worker; lease: string }> {
  const leader = await s.leader();
  await nextRenewal(s, leader);
  const lease = leaseKeys(s.namespace, 'q').lease;
  s.mark('fill', 'start');
  expect(await fillMemory(s.admin, async () => (await s.admin.exists(lease)) === 0)).toBe(outcome);
  return { leader, lease };
}

describe('fault suite: eviction (maxmemory 8mb)', () => {
  it('U9 must-fire: maxmemory-policy volatile-lru evicts the held lease; an elector started then is granted the name while the leader still trusts its lease; diagnose() warned at start', async () => {
    let filled = 0n;
    let proc = '';
    const r = await scenario(
      { electors: 1, ttlMs: TTL, redisArgs: memory('volatile-lru') },
      async (s) => {
        const { leader } = await fillAfterRenewal(s, 'done');
        proc = leader.proc;
        filled = s.mark('fill', 'end');
        await s.spawn('fresh');
        await sleep(TTL / 4 + 500); // the leader's next renewal finds the lease gone
      },
      (r, s) => {
        expect(s.workers[0]?.stderr).toMatch(/maxmemory-policy volatile-lru/);
        const fresh = evs(r, 'became_leader', 'fresh')[0];
        expect(fresh, 'the newcomer was granted the name').toBeDefined();
        // Within one renewal period of the fill: before the leader could learn of the loss.
        expect(msBetween(filled, t(fresh as HistoryEvent))).toBeLessThan(TTL / 4);
        expect(evs(r, 'stepped_down', proc).some((e) => e.reason === 'lost')).toBe(true);
      },
      false,
    );
    expect(r.overlaps.length).toBeGreaterThan(0);
  });

  it('Q20 gate: maxmemory-policy noeviction: the filler gets OOM, the lease stays (the newcomer is refused, the leader renews); after the leader crashes and its lease runs out, acquisitions meet OOM and are retried until memory is freed, then granted', async () => {
    let proc = '';
    let expired = 0n;
    let freed = 0n;
    await scenario(
      // ttl 2 s: nothing here needs the fill to fit between two renewals.
      { electors: 1, ttlMs: 2000, redisArgs: memory('noeviction') },
      async (s) => {
        const { leader, lease } = await fillAfterRenewal(s, 'oom');
        proc = leader.proc;
        // Keep memory well over the limit, so an expired lease key cannot make room again.
        const used = Number(/used_memory:(\d+)/.exec(await s.admin.info('memory'))?.[1]);
        await s.admin.config('SET', 'maxmemory', String(used - 2 * 1024 * 1024));
        await s.spawn('fresh');
        await nextRenewal(s, leader);
        await nextRenewal(s, leader);
        // A crash, not a stop: a graceful release hands the name to the waiting newcomer in
        // one script whose first write is a DEL, and Redis lets a script that has written
        // finish at the memory limit (observed: granted 4 ms after the release).
        leader.child.kill('SIGKILL');
        const until = Date.now() + 5000;
        while ((await s.admin.exists(lease)) === 1) {
          if (Date.now() > until) throw new Error('the lease never expired');
          await sleep(5);
        }
        expired = s.mark('lease-expired', 'start');
        await sleep(1000); // the newcomer's acquisitions meet OOM
        const fillers = await s.admin.keys('filler:*');
        for (let i = 0; i < fillers.length; i += 500)
          await s.admin.del(...fillers.slice(i, i + 500));
        freed = s.mark('fill', 'end');
        await sleep(1500);
      },
      (r, s) => {
        expect(s.workers.some((w) => /maxmemory-policy/.test(w.stderr))).toBe(false);
        expect(evs(r, 'became_leader', 'fresh').filter((e) => t(e) < freed)).toEqual([]);
        const renewed = evs(r, 'renew_reply', proc).filter((e) => e.result === 'ok');
        expect(renewed.length).toBeGreaterThan(2);
        const oom = evs(r, 'acquire_reply', 'fresh').filter(
          (e) => e.result === 'error' && t(e) > expired && t(e) < freed,
        );
        expect(oom.length, 'acquisitions met OOM').toBeGreaterThan(0);
        expect(oom.every((e) => e.err === 'TENURE_STORE_UNAVAILABLE')).toBe(true);
        const fresh = evs(r, 'became_leader', 'fresh')[0];
        expect(fresh).toBeDefined();
        expect(msBetween(freed, t(fresh as HistoryEvent))).toBeLessThanOrEqual(F_RELEASE);
      },
    );
  });
});
