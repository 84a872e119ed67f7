/**
 * RedisLeaseStore on a real Redis Cluster (3 primaries, 1 replica each),
 * through ioredis `Cluster`. The bug issue 13 reported from main: with
 * `waitReplicas: 1`, after the primary of a held lock's shard was killed
 * and its replica promoted, every operation on that name failed with
 * TENURE_CLUSTER_MISCONFIGURED (a `MOVED` reply to the script, which goes
 * out in one pipeline with `WAIT`, and ioredis neither redirects such a
 * pipeline nor refreshes its slot map) for more than 15 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Locker } from '../../src/lock/locker.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisCluster } from '../helpers/redis-cluster.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 60_000);
afterAll(() => cluster.stop());

describe('RedisLeaseStore on a Redis Cluster', () => {
  it('with waitReplicas 1, after its shard fails over and the old primary rejoins as a replica, the name works again: MOVED is routing, never TENURE_CLUSTER_MISCONFIGURED', async () => {
    const store = (): RedisLeaseStore =>
      new RedisLeaseStore({
        client: cluster.client(),
        namespace: 'failover',
        waitReplicas: 1,
        waitTimeoutMs: 100,
      });
    const a = new Locker(store(), { identity: 'a' });
    const b = new Locker(store(), { identity: 'b' });
    const lock = await a.lock('job', { ttlMs: 3000, renewMs: 1000 });
    const codes: string[] = [];
    const probe = async (): Promise<boolean> => {
      const got = await b.tryLock('job').catch((e: { code?: string }) => {
        codes.push(e.code ?? 'no code');
        return null;
      });
      if (got) await got.release();
      return got !== null;
    };
    const primary = await cluster.primaryOf('{failover:job}:lease');
    await primary.kill();
    await cluster.waitUntilHealthy(); // its replica is the primary now (no replica of its own)
    await probe();
    await primary.restart(); // rejoins as a replica of the promoted one
    await cluster.waitUntilHealthy();
    await cluster.waitUntilReplicated();
    await lock.release().catch(() => false); // a's lock may have ended without replicas meanwhile
    await expect.poll(probe, { timeout: 5000, interval: 100 }).toBe(true);
    expect(codes.filter((c) => c === 'TENURE_CLUSTER_MISCONFIGURED')).toEqual([]);
  });

  it('with waitReplicas 1, while the slot of a held lease stays in migration (its keys already moved: the source answers ASK), renewals and acquisitions follow the ASK: the lease stays valid past its ttl and nobody else is granted it', async () => {
    const store = (): RedisLeaseStore =>
      new RedisLeaseStore({
        client: cluster.client(),
        namespace: 'migrating',
        waitReplicas: 1,
        waitTimeoutMs: 100,
      });
    const a = new Locker(store(), { identity: 'a' });
    const b = new Locker(store(), { identity: 'b' });
    const lock = await a.lock('job', { ttlMs: 1500, renewMs: 300 });
    const from = await cluster.primaryOf('{migrating:job}:lease');
    const primaries = [];
    for (const n of cluster.nodes) if ((await cluster.slotCount(n)) > 0) primaries.push(n);
    const to = primaries.find((n) => n !== from);
    if (!to) throw new Error('no other primary');
    const slot = await cluster.beginMigration('{migrating:job}:lease', to, [
      '{migrating:job}:lease',
      '{migrating:job}:term',
    ]);
    try {
      await new Promise((r) => setTimeout(r, 2000)); // > ttl: only renewals that reached `to` keep it
      expect(lock.isValid).toBe(true);
      expect(await b.tryLock('job')).toBeNull();
      expect((await b.get('job'))?.identity).toBe('a');
    } finally {
      await cluster.finishMigration(slot, to);
    }
    expect(await cluster.primaryOf('{migrating:job}:lease')).toBe(to);
    expect(lock.isValid).toBe(true);
    expect(await lock.release()).toBe(true);
  });
});
