/**
 * waitReplicas under concurrency, quickly: 64 concurrent tryLock + release on
 * one client against a private primary and replica, with waitReplicas 0 and 1
 * in alternating rounds of 1.5 s. Not part of `npm run bench` (the Sentinel
 * and Cluster sections measure the same in interleaved rounds); a tool for
 * trying changes to the store's WAIT connections. Usage:
 * `npm run build:examples && node .build/bench/profile-wait.js`
 */
import { RedisLeaseStore } from '../src/lock/redis/redis-store.js';
import { Locker } from '../src/lock/locker.js';
import { RedisServer } from '../test/helpers/redis-server.js';

const primary = await RedisServer.start();
const replica = await primary.startReplica();
const client = primary.client();
try {
  const lockers = [0, 1].map(
    (w) => new Locker(new RedisLeaseStore({ client, namespace: `w${w}`, waitReplicas: w })),
  );
  let n = 0;
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
      console.log(
        `waitReplicas ${w}: ${((cycles / (performance.now() - t0)) * 1000).toFixed(0)} cycles/s`,
      );
    }
  }
} finally {
  client.disconnect();
  await replica.stop();
  await primary.stop();
}
