/**
 * The fault suite's Redis Cluster column: the same harness, checkers and
 * history format, with a private 6-node Redis Cluster (3 primaries, 1
 * replica each, cluster-node-timeout 1000 ms) as the lease server; electors
 * use an ioredis `Cluster` client with `waitReplicas: 1`. Faults hit the
 * nodes: the primary of the lease's shard SIGKILLed, the lease's slots
 * resharded while it is renewed, another shard lost (CLUSTERDOWN).
 */
import { describe, expect, it } from 'vitest';
import { leaseKeys } from '../../src/lock/redis/keys.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { gracefulStop, leaderCrash } from './cases.js';
import { F_CRASH, type Scenario, T, msBetween, sleep } from './harness.js';
import type { HistoryEvent } from './history.js';
import { evs, stepDown, t } from './queries.js';
import { scenario } from './scenario-runner.js';

const CLUSTER = { backend: 'cluster', waitReplicas: 1 } as const;

/** The key of the fault electors' lease (election 'q'). */
const leaseKey = (s: Scenario): string => leaseKeys(s.namespace, 'q').lease;

/** SIGKILLs the primary of the lease's shard; resolves with it once its replica is promoted. */
async function killShardPrimary(s: Scenario): Promise<RedisServer> {
  const old = await s.cluster.primaryOf(leaseKey(s));
  await old.kill();
  const until = Date.now() + 15_000;
  while ((await s.cluster.primaryOf(leaseKey(s))) === old) {
    if (Date.now() > until) throw new Error('no replica promoted');
    await sleep(20);
  }
  return old;
}

/** Resolves once `node` reports `cluster_state:fail` (it counts a lost shard). */
async function clusterDown(s: Scenario, port: number, timeoutMs = 15_000): Promise<void> {
  const node = s.cluster.nodes.find((n) => n.port === port);
  if (!node) throw new Error(`no node on ${port}`);
  const client = node.client();
  try {
    const until = Date.now() + timeoutMs;
    while (!String(await client.cluster('INFO')).includes('cluster_state:fail')) {
      if (Date.now() > until) throw new Error('the cluster never went down');
      await sleep(20);
    }
  } finally {
    client.disconnect();
  }
}

describe('fault suite: Redis Cluster (3 primaries, 1 replica each), waitReplicas 1', () => {
  it('CQ1 leader crash (SIGKILL): a new leader within F_crash, with a higher term', () =>
    leaderCrash(CLUSTER));

  it("CQ2 graceful stop: the next leader is woken by the shard's release notification (SPUBLISH) within F_release", () =>
    gracefulStop(CLUSTER));

  it("CQ3 SIGKILL of the lease shard's primary while the lease is renewed: its replica is promoted, 0 overlaps; the shard has no replica (no leader) until the old primary rejoins as one, then a leader within F_crash", async () => {
    let killed = 0n;
    let rejoined = 0n;
    await scenario(
      CLUSTER,
      async (s) => {
        await s.leader();
        await sleep(1500);
        killed = s.mark('sigkill-shard-primary', 'start');
        const old = await killShardPrimary(s);
        s.mark('promoted', 'start');
        await sleep(2500);
        await old.restart();
        await s.cluster.waitUntilHealthy();
        await s.cluster.waitUntilReplicated();
        rejoined = s.mark('sigkill-shard-primary', 'end');
        await sleep(2000);
      },
      (r) => {
        // With one replica per shard and waitReplicas 1, the promoted primary has no replica
        // to confirm writes until the old one rejoins: no leader in between (README).
        const next = evs(r, 'became_leader').find((e) => t(e) > killed);
        expect(next, 'a leader after the promotion').toBeDefined();
        expect(msBetween(rejoined, t(next as HistoryEvent))).toBeLessThanOrEqual(F_CRASH);
      },
    );
  });

  it("CQ6 sharded subscriptions follow a fail-over of the lease's shard: once the old primary rejoined as a replica and a leader is back, a graceful stop is handed over by the shard's notification within F_release", () =>
    gracefulStop(CLUSTER, async (s) => {
      s.mark('sigkill-shard-primary', 'start');
      const old = await killShardPrimary(s);
      await old.restart();
      await s.cluster.waitUntilHealthy();
      await s.cluster.waitUntilReplicated();
      await s.leader(5000);
      s.mark('sigkill-shard-primary', 'end');
    }));

  it("CQ4 resharding (redis-cli --cluster reshard moves every slot of the lease's shard, keys and all) while the lease is renewed: the same leader and term throughout, 0 overlaps", async () => {
    let before = { proc: '', term: 0 };
    let moved = 0;
    await scenario(
      CLUSTER,
      async (s) => {
        const leader = await s.leader();
        await sleep(1500);
        before = { proc: leader.proc, term: leader.leading as number };
        const from = await s.cluster.primaryOf(leaseKey(s));
        const primaries = await Promise.all(
          s.cluster.nodes.map(async (n) => ({ n, slots: await s.cluster.slotCount(n) })),
        );
        const to = primaries.find((p) => p.slots > 0 && p.n !== from)?.n;
        if (!to) throw new Error('no other primary');
        moved = await s.cluster.slotCount(from);
        s.mark('reshard', 'start');
        await s.cluster.reshard(from, to, moved);
        s.mark('reshard', 'end');
        expect(await s.cluster.primaryOf(leaseKey(s))).toBe(to);
        await sleep(1500);
      },
      (r) => {
        expect(moved).toBeGreaterThan(1000);
        const downs = evs(r, 'stepped_down').filter(
          (e) => e.proc === before.proc && e.term === before.term,
        );
        // Only the graceful stop at the end ends the term: no step-down while slots moved.
        expect(downs.every((e) => e.reason === 'stopped')).toBe(true);
        expect(evs(r, 'became_leader').filter((e) => e.term !== before.term)).toEqual([]);
      },
    );
  });

  it('CQ5 CLUSTERDOWN (another shard lost: its primary and replica SIGKILLed) for 1.5T: the leader retries until its deadline and steps down on it, not earlier; a leader within F_crash of every node counting the cluster whole again', async () => {
    let proc = '';
    let lost = 0n;
    let down = 0n;
    let healed = 0n;
    await scenario(
      CLUSTER,
      async (s) => {
        const leader = await s.leader();
        proc = leader.proc;
        await sleep(1500);
        const ours = await s.cluster.primaryOf(leaseKey(s));
        let victim;
        for (const n of s.cluster.nodes)
          if (!victim && n !== ours && (await s.cluster.slotCount(n)) > 0) victim = n;
        if (!victim) throw new Error('no other shard');
        const shard = await s.cluster.shardOf(victim);
        lost = s.mark('shard-lost', 'start');
        await Promise.all(shard.map((n) => n.kill()));
        await clusterDown(s, ours.port);
        down = s.mark('clusterdown', 'start');
        await sleep(1.5 * T);
        s.mark('clusterdown', 'end');
        await Promise.all(shard.map((n) => n.restart()));
        await s.cluster.waitUntilHealthy();
        healed = process.hrtime.bigint();
        await sleep(2500);
      },
      (r) => {
        const sd = stepDown(r, proc, lost);
        expect(sd?.down.reason).toBe('deadline');
        expect(sd?.lateMs).toBeLessThanOrEqual(50);
        const errors = r.history.filter(
          (e): e is Extract<HistoryEvent, { ev: 'renew_reply' }> =>
            e.ev === 'renew_reply' && e.proc === proc && e.result === 'error' && t(e) > down,
        );
        expect(errors.length, 'renewals met CLUSTERDOWN').toBeGreaterThan(0);
        expect(errors.every((e) => e.err === 'TENURE_STORE_UNAVAILABLE')).toBe(true);
        // Elected once the lease's node counts the cluster whole, which may precede `healed`.
        const next = evs(r, 'became_leader').find((e) => t(e) > t(sd?.down as HistoryEvent));
        expect(next, 'a leader after the cluster is whole').toBeDefined();
        expect(msBetween(healed, t(next as HistoryEvent))).toBeLessThanOrEqual(F_CRASH);
        expect(msBetween(down, t(sd?.down as HistoryEvent))).toBeLessThanOrEqual(T);
      },
    );
  });
});
