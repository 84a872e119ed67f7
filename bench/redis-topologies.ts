/**
 * The Redis Sentinel and Redis Cluster sections of `npm run bench`: on a
 * private Sentinel deployment (1 primary, 2 replicas, 3 sentinels) and a
 * private 6-node Cluster, tenure's lock cycle side by side with a raw
 * ioredis baseline on the same client, with and without `waitReplicas`, in
 * interleaved rounds; and the elector's graceful hand-over (5 electors,
 * `stop()` on the leader to `elected` on the next). Numbers, not verdicts.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { Elector, RedisLeaseStore } from '../src/index.js';
import { RedisCluster } from '../test/helpers/redis-cluster.js';
import { RedisSentinelGroup } from '../test/helpers/redis-sentinel.js';
import { type CycleImpl, lockCycleTables, median, percentile, tenureCycles } from './harness.js';

export interface RedisTopologiesBenchOptions {
  readonly rounds: number;
  readonly durationMs: number;
  readonly handovers: number;
  readonly out: (line?: string) => void;
}

type Client = Redis | Cluster;
/** A logger that drops everything (an elector without a logger prints deployment warnings). */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const TTL = 10_000;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** SET NX PX, then compare-and-delete (a script ioredis sends by EVALSHA, loading it where missing). */
function raw(client: Client): CycleImpl {
  client.defineCommand('benchRelease', { numberOfKeys: 1, lua: RELEASE });
  const release = (client as unknown as Record<string, (k: string, t: string) => Promise<unknown>>)[
    'benchRelease'
  ] as (k: string, t: string) => Promise<unknown>;
  return {
    name: 'raw ioredis (SET NX PX + compare-and-delete script)',
    async cycle(key) {
      const token = randomBytes(16).toString('base64url');
      if ((await client.set(key, token, 'PX', TTL, 'NX')) !== 'OK') return false;
      await release.call(client, key, token);
      return true;
    },
  };
}

/**
 * Graceful hand-overs among 5 electors (ttl 5 s, renew 1 s, retry 0.5 s), each with its own
 * client from `connect`: `stop()` on the leader to `elected` on the next, `count` times, the
 * stopped one replaced by a new elector each time. Returns the times in ms.
 */
export async function handovers(
  connect: () => Client,
  waitReplicas: number,
  count: number,
): Promise<number[]> {
  const namespace = `handover-${waitReplicas}-${Date.now()}`;
  const clients: Client[] = [];
  const stores: RedisLeaseStore[] = [];
  const make = (i: number): Elector => {
    const client = connect();
    clients.push(client);
    const store = new RedisLeaseStore({ client, namespace, waitReplicas });
    stores.push(store);
    return new Elector({
      store,
      election: 'h',
      identity: `e${i}`,
      ttlMs: 5000,
      renewMs: 1000,
      retryMs: 500,
      // waitReplicas 0 with replicas is part of the comparison: no deployment warning.
      logger: quiet,
    });
  };
  const electors = Array.from({ length: 5 }, (_, i) => make(i));
  await Promise.all(electors.map((e) => e.start()));
  await Promise.race(electors.map((e) => e.waitForLeadership()));
  const times: number[] = [];
  for (let n = 0; n < count; n++) {
    const leader = electors.find((e) => e.isLeader) as Elector;
    const rest = electors.filter((e) => e !== leader);
    const elected = new Promise<number>((resolve) => {
      for (const e of rest) e.once('elected', () => resolve(performance.now()));
    });
    const t0 = performance.now();
    await leader.stop();
    times.push((await elected) - t0);
    const replacement = make(electors.length + n);
    electors.splice(electors.indexOf(leader), 1, replacement);
    await replacement.start();
  }
  await Promise.all(electors.map((e) => e.stop()));
  // Each store's pub/sub connection (a duplicate of its client) is closed by the store.
  await Promise.all(stores.map((s) => s.close()));
  for (const c of clients) c.disconnect();
  return times;
}

async function topology(
  label: string,
  description: string,
  connect: () => Client,
  o: RedisTopologiesBenchOptions,
): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const client = connect();
  const impls: CycleImpl[] = [
    raw(client),
    ...tenureCycles(
      new RedisLeaseStore({ client, namespace: `bench-${label}` }),
      TTL,
      'RedisLeaseStore',
    ),
  ];
  const [replicated] = tenureCycles(
    new RedisLeaseStore({ client, namespace: `bench-${label}-w`, waitReplicas: 1 }),
    TTL,
    'RedisLeaseStore',
  );
  if (replicated) impls.push({ ...replicated, name: `${replicated.name}, waitReplicas 1` });
  o.out(
    `\n## ${label}\n\n${description}; ${o.rounds} interleaved rounds of ${o.durationMs} ms each.`,
  );
  Object.assign(
    results,
    await lockCycleTables(impls, {
      label,
      baseline: 'raw ioredis',
      where: 'one client',
      rounds: o.rounds,
      durationMs: o.durationMs,
      out: o.out,
    }),
  );
  client.disconnect();

  o.out(
    `\n### ${label} 3. Elector graceful hand-over (5 electors, one process, a client each; ${o.handovers} hand-overs each)\n`,
  );
  o.out('| store | p50 ms | p99 ms | max ms |');
  o.out('| --- | ---: | ---: | ---: |');
  for (const waitReplicas of [0, 1]) {
    const times = await handovers(connect, waitReplicas, o.handovers);
    o.out(
      `| RedisLeaseStore, waitReplicas ${waitReplicas} | ${median(times).toFixed(2)} | ${percentile(times, 99).toFixed(2)} | ${Math.max(...times).toFixed(2)} |`,
    );
    results[`${label} 3. hand-over, waitReplicas ${waitReplicas}`] = {
      p50: median(times),
      p99: percentile(times, 99),
      max: Math.max(...times),
      n: times.length,
    };
  }
  return results;
}

export async function redisTopologiesBench(
  o: RedisTopologiesBenchOptions,
): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const sentinel = await RedisSentinelGroup.start();
  try {
    Object.assign(
      results,
      await topology(
        'Sentinel',
        'Redis Sentinel on 127.0.0.1 (private: 1 primary, 2 replicas, 3 sentinels), clients `new Redis({ sentinels, name })`',
        () => sentinel.client({ maxRetriesPerRequest: 20 }),
        o,
      ),
    );
  } finally {
    await sentinel.stop();
  }
  const cluster = await RedisCluster.start();
  try {
    Object.assign(
      results,
      await topology(
        'Cluster',
        'Redis Cluster on 127.0.0.1 (private: 3 primaries, 1 replica each), ioredis `Cluster` clients; fresh names spread over every shard',
        () => cluster.client(),
        o,
      ),
    );
  } finally {
    await cluster.stop();
  }
  return results;
}
