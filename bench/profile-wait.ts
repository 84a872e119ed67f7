/**
 * waitReplicas under concurrency, quickly: 64 concurrent tryLock + release on
 * one client, with waitReplicas 0 and 1 in alternating rounds of 1.5 s,
 * against a private primary and replica, or with `cluster` a private
 * 3-primary Cluster with a replica each. Not part of `npm run bench` (the
 * Sentinel and Cluster sections measure the same in interleaved rounds); a
 * tool for trying changes to the store's WAIT connections. Usage:
 * `npm run build:examples && node .build/bench/profile-wait.js [cluster]`
 */
import type { Cluster, Redis } from 'ioredis';
import { Locker } from '../src/lock/locker.js';
import { RedisLeaseStore } from '../src/lock/redis/redis-store.js';
import { RedisCluster } from '../test/helpers/redis-cluster.js';
import { RedisServer } from '../test/helpers/redis-server.js';

const onCluster = process.argv[2] === 'cluster';
let client: Redis | Cluster;
let stop: () => Promise<void>;
if (onCluster) {
  const cluster = await RedisCluster.start();
  await cluster.waitUntilReplicated();
  client = cluster.client();
  stop = () => cluster.stop();
} else {
  const primary = await RedisServer.start();
  const replica = await primary.startReplica();
  client = primary.client();
  stop = async () => {
    await replica.stop();
    await primary.stop();
  };
}
try {
  const lockers = [0, 1].map(
    (w) => new Locker(new RedisLeaseStore({ client, namespace: `w${w}`, waitReplicas: w })),
  );
  let n = 0;
  const rates: number[][] = [[], []];
  for (let round = 0; round < 4; round++) {
    for (const [w, locker] of lockers.entries()) {
      const t0 = performance.now();
      let cycles = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (performance.now() - t0 < 1500) {
            const lock = await locker.tryLock(`n${n++}`, { ttlMs: 10_000 });
            if (lock) await lock.release();
            cycles++;
          }
        }),
      );
      const rate = (cycles / (performance.now() - t0)) * 1000;
      rates[w]?.push(rate);
      console.log(`waitReplicas ${w}: ${rate.toFixed(0)} cycles/s`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
  console.log(`ratio (medians): ${(median(rates[1] ?? []) / median(rates[0] ?? [])).toFixed(2)}`);
} finally {
  client.disconnect();
  await stop();
}
