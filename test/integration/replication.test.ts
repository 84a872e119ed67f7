/**
 * waitReplicas against a real primary and replica; the replica replicates
 * through a FaultProxy so replication can be stalled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotEnoughReplicasError } from '../../src/errors.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { Locker } from '../../src/lock/locker.js';
import { leaseKeys } from '../../src/lock/redis/keys.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { FaultProxy } from '../fault/proxy.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';

let primary: RedisServer;
let replica: RedisServer;
let link: FaultProxy;

beforeAll(async () => {
  primary = await RedisServer.start();
  link = await FaultProxy.start(primary.port);
  replica = await primary.startReplica(link.port); // resolves once the primary counts it for WAIT
});
afterAll(async () => {
  await replica.stop();
  await link.close();
  await primary.stop();
});

const request = (name: string) => ({
  name,
  token: OwnershipToken.generate(),
  ttlMs: 2000,
  identity: 'me',
  data: '',
});

describe('waitReplicas', () => {
  it('counts an acquisition once a replica confirmed it, and the replica has the lease', async () => {
    const namespace = uniqueNamespace();
    const store = new RedisLeaseStore({
      client: primary.client(),
      namespace,
      waitReplicas: 1,
      waitTimeoutMs: 500,
    });
    const r = await store.acquire(request('job'));
    expect(r.acquired).toBe(true);
    expect(await replica.client().exists(leaseKeys(namespace, 'job').lease)).toBe(1);
    expect(await store.diagnose()).toEqual([]);
    await store.close();
  });

  it('refuses an acquisition that no replica confirmed and hands the lease back on the primary', async () => {
    const namespace = uniqueNamespace();
    const store = new RedisLeaseStore({
      client: primary.client(),
      namespace,
      waitReplicas: 1,
      waitTimeoutMs: 50,
    });
    link.stall();
    try {
      const error = await store.acquire(request('job')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotEnoughReplicasError);
      expect(error).toMatchObject({ code: 'TENURE_NOREPLICAS', ambiguous: true });
      await expect
        .poll(() => primary.client().exists(leaseKeys(namespace, 'job').lease), { timeout: 2000 })
        .toBe(0);
    } finally {
      link.heal('deliver');
    }
    await store.close();
  });

  it('does not extend a lock whose renewals are not replicated: it ends at the last confirmed deadline', async () => {
    const namespace = uniqueNamespace();
    const store = new RedisLeaseStore({
      client: primary.client(),
      namespace,
      waitReplicas: 1,
      waitTimeoutMs: 30,
    });
    const lock = await new Locker(store).lock('job', {
      ttlMs: 1000,
      renewMs: 200,
      requestTimeoutMs: 150,
    });
    const stalledAt = performance.now();
    link.stall();
    try {
      await new Promise<void>((resolve) =>
        lock.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      const after = performance.now() - stalledAt;
      expect(after).toBeLessThan(1000); // renewals on the primary kept succeeding, but were not counted
      expect(lock.isValid).toBe(false);
    } finally {
      link.heal('deliver');
    }
    await lock.release().catch(() => false);
    await store.close();
  });

  it('warns when replicas exist and waitReplicas is 0', async () => {
    const store = new RedisLeaseStore({ client: primary.client(), namespace: uniqueNamespace() });
    const warnings = await store.diagnose();
    expect(warnings.join('\n')).toMatch(/1 replica\(s\) and waitReplicas is 0/);
    await store.close();
  });
});
