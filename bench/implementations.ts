/**
 * The lock implementations compared, each as one acquire+release cycle on a
 * key. Every one gets a TTL of 10 s and no retries (the cycle never contends
 * except in the contention scenario), and the same ioredis client.
 */
import { randomBytes } from 'node:crypto';
import { Redlock as SesameRedlock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import Redlock from 'redlock';
import { Mutex } from 'redis-semaphore';
import { IoredisAdapter, createLock } from 'redlock-universal';
import { Locker, RedisLeaseStore } from '../src/index.js';

export interface Impl {
  readonly name: string;
  /** One acquire + release of `key`; returns false when the lock was held. */
  cycle(key: string): Promise<boolean>;
}

const TTL = 10_000;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** The physical baseline: SET NX PX, then a compare-and-delete script by EVALSHA. Two round trips. */
export async function raw(client: Redis): Promise<Impl> {
  const sha = (await client.script('LOAD', RELEASE)) as string;
  return {
    name: 'raw ioredis (SET NX PX + EVALSHA)',
    async cycle(key) {
      const token = randomBytes(16).toString('base64url');
      if ((await client.set(key, token, 'PX', TTL, 'NX')) !== 'OK') return false;
      await client.evalsha(sha, 1, key, token);
      return true;
    },
  };
}

export function tenure(client: Redis, namespace: string): Impl {
  const locker = new Locker(new RedisLeaseStore({ client, namespace }));
  return {
    name: 'tenure Locker.tryLock + release',
    async cycle(key) {
      const lock = await locker.tryLock(key, { ttlMs: TTL });
      if (!lock) return false;
      await lock.release();
      return true;
    },
  };
}

/** redlock and its fork share one API: acquire(resources, ttl) → lock.release(). */
function redlockStyle(
  name: string,
  r: { acquire(keys: string[], ttl: number): Promise<{ release(): Promise<unknown> }> },
): Impl {
  return {
    name,
    async cycle(key) {
      try {
        const lock = await r.acquire([key], TTL);
        await lock.release();
        return true;
      } catch {
        return false;
      }
    },
  };
}

export function redlock(client: Redis): Impl {
  return redlockStyle('redlock 5.0.0-beta.2', new Redlock([client], { retryCount: 0 }));
}

export function sesameRedlock(client: Redis): Impl {
  return redlockStyle(
    '@sesamecare-oss/redlock 1.4.0',
    new SesameRedlock([client], { retryCount: 0 }),
  );
}

export function redisSemaphore(client: Redis): Impl {
  return {
    name: 'redis-semaphore 5.8.0 Mutex',
    async cycle(key) {
      const mutex = new Mutex(client, key, { lockTimeout: TTL, refreshInterval: TTL / 3 });
      if (!(await mutex.tryAcquire())) return false;
      await mutex.release();
      return true;
    },
  };
}

export function redlockUniversal(client: Redis): Impl {
  const adapter = new IoredisAdapter(client);
  return {
    name: 'redlock-universal 0.8.5 (lean)',
    async cycle(key) {
      const lock = createLock({ adapter, key, ttl: TTL, retryAttempts: 0, performance: 'lean' });
      try {
        const handle = await lock.acquire();
        await lock.release(handle);
        return true;
      } catch {
        return false;
      }
    },
  };
}
