/**
 * A Redis used as a cache drops leases (issue 13, "Eviction"). Lease keys
 * carry a TTL, so every `volatile-*` policy targets them: on a private server
 * with a memory limit and `volatile-lru`, filling memory with keys that have a
 * TTL evicts a held lease and a second caller is granted the name while the
 * first still trusts its lock (only the higher term, used as a fencing token,
 * tells them apart). With `noeviction` the filler gets `OOM`, the lease stays
 * and the holder keeps renewing. `diagnose()` warns about the first
 * configuration and not the second.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Locker } from '../../src/lock/locker.js';
import { leaseKeys } from '../../src/lock/redis/keys.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { fillMemory, RedisServer, uniqueNamespace } from '../helpers/redis-server.js';

for (const policy of ['volatile-lru', 'noeviction'] as const) {
  describe(`maxmemory 8mb, maxmemory-policy ${policy}`, () => {
    let server: RedisServer;
    let admin: Redis;
    beforeAll(async () => {
      server = await RedisServer.start(['--maxmemory', '8mb', '--maxmemory-policy', policy]);
      admin = server.client({ maxRetriesPerRequest: 0 });
    });
    afterAll(async () => {
      await server.stop();
    });

    it(
      policy === 'noeviction'
        ? 'keeps the lease: the filler gets OOM, nobody else is granted the name, the holder renews'
        : 'evicts a held lease: a second caller is granted the name while the first still trusts it',
      async () => {
        const namespace = uniqueNamespace('evict');
        const store = new RedisLeaseStore({ client: server.client(), namespace });
        // With noeviction the holder must renew during the check; with volatile-lru it must
        // not renew before the check: a renewal would find the lease evicted and end it,
        // and the window (the fill, then b's attempt) can pass 200 ms on a loaded machine.
        const renewMs = policy === 'noeviction' ? 200 : 10_000;
        const a = await new Locker(store).lock('report', { ttlMs: 30_000, renewMs });
        const lease = leaseKeys(namespace, 'report').lease;
        const outcome = await fillMemory(admin, async () => (await admin.exists(lease)) === 0);
        const b = await new Locker(store).tryLock('report', { ttlMs: 30_000 });
        if (policy === 'noeviction') {
          expect(outcome).toBe('oom');
          expect(b).toBeNull();
          const before = await admin.pttl(lease);
          await new Promise((r) => setTimeout(r, 450)); // two renewals (PEXPIRE needs no memory)
          expect(await admin.pttl(lease)).toBeGreaterThan(before - 100);
          expect(a.isValid).toBe(true);
        } else {
          expect(outcome).toBe('done');
          expect(b).not.toBeNull();
          expect(a.isValid).toBe(true); // two trusted holders...
          expect(b?.term).toBeGreaterThan(a.term); // ...told apart only by the fencing term
          await b?.release();
        }
        await a.release();
        await store.close();
      },
    );

    it(`diagnose() ${policy === 'noeviction' ? 'does not warn' : 'warns about the eviction policy'}`, async () => {
      const store = new RedisLeaseStore({ client: server.client(), namespace: uniqueNamespace() });
      const warnings = await store.diagnose();
      if (policy === 'noeviction') expect(warnings).toEqual([]);
      else expect(warnings.join('\n')).toMatch(/maxmemory-policy volatile-lru.*noeviction/);
      await store.close();
    });
  });
}
