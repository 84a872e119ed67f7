/**
 * The ioredis race the Sentinel guard (src/lock/redis/sentinel-guard.ts)
 * repairs, on a private Sentinel deployment: with `failoverDetector: true`,
 * a `+switch-master` that reaches a client while it waits for a sentinel to
 * name the primary ends the client for good. Every sentinel answer here is
 * delayed 1.5 s by a proxy, so a client reconnecting after the primary died
 * spends nearly all its time waiting for one, and the race is all but
 * certain for each of the four clients (the test asserts that it happened).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { FaultProxy } from '../fault/proxy.js';
import { MASTER_NAME, RedisSentinelGroup } from '../helpers/redis-sentinel.js';
import { uniqueNamespace } from '../helpers/redis-server.js';

const ANSWER_DELAY_MS = 1500;
let group: RedisSentinelGroup;
let proxies: FaultProxy[] = [];

beforeAll(async () => {
  group = await RedisSentinelGroup.start();
  proxies = await Promise.all(group.sentinelPorts.map((port) => FaultProxy.start(port)));
}, 60_000);
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await group.stop();
});

it('a Sentinel client that ioredis ends during a fail-over is reconnected, and its store answers from the new primary', async () => {
  const namespace = uniqueNamespace('guard');
  const clients = Array.from(
    { length: 4 },
    () =>
      new Redis({
        sentinels: proxies.map((p) => ({ host: '127.0.0.1', port: p.port })),
        name: MASTER_NAME,
        failoverDetector: true,
        updateSentinels: false, // stay behind the proxies
        sentinelRetryStrategy: () => 50,
        retryStrategy: () => 50,
        maxRetriesPerRequest: 0,
      }),
  );
  const ended = clients.map(() => 0);
  clients.forEach((c, i) => {
    c.on('error', () => undefined);
    c.on('end', () => ended[i]!++);
  });
  const stores = clients.map((client) => new RedisLeaseStore({ client, namespace }));
  try {
    for (const store of stores) expect(await store.read('job')).toBeNull();
    for (const p of proxies) p.delay('s2c', ANSWER_DELAY_MS);
    const old = await group.primary();
    await old.kill();
    await group.waitForNewPrimary(old, 30_000);
    // Every store answers again within a bound: the fail-over is done, and each client's
    // next cycle is a delayed sentinel answer, a connect and a retry.
    const until = Date.now() + 20_000;
    const answered = stores.map(() => false);
    while (answered.includes(false) && Date.now() < until) {
      await Promise.all(
        stores.map(async (store, i) => {
          if (answered[i]) return;
          answered[i] = await store.read('job').then(
            (r) => r === null,
            () => false,
          );
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    const revivals = stores.map((s) => s.stats.clientRevivals);
    expect({ answered, ended, revivals }).toMatchObject({ answered: [true, true, true, true] });
    // The race happened (ioredis ended a client on its own) and the guard repaired it.
    expect(
      ended.reduce((a, b) => a + b, 0),
      'ioredis ended a client',
    ).toBeGreaterThan(0);
    expect(revivals.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(clients.map((c) => c.status)).toEqual(['ready', 'ready', 'ready', 'ready']);
  } finally {
    for (const p of proxies) p.delay('s2c', 0);
    await Promise.all(stores.map((s) => s.close()));
    for (const c of clients) c.disconnect();
  }
}, 90_000);
