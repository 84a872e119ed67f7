/**
 * etcd with authentication on, as the README describes it: a user whose role
 * may read and write one prefix. Inside it every operation works; outside it
 * the store fails with a PermissionError (not retried), and nothing is left
 * behind.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermissionError } from '../../src/errors.js';
import { Elector } from '../../src/election/elector.js';
import { EtcdLeaseStore } from '../../src/lock/etcd/etcd-store.js';
import { Locker } from '../../src/lock/locker.js';
import { ETCDCTL_BIN, EtcdCluster } from '../helpers/etcd-cluster.js';

let cluster: EtcdCluster;

async function etcdctl(...args: string[]): Promise<void> {
  await promisify(execFile)(ETCDCTL_BIN, ['--endpoints', cluster.endpoints.join(','), ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 20_000,
  });
}

beforeAll(async () => {
  cluster = await EtcdCluster.start();
  await etcdctl('user', 'add', 'root', '--new-user-password=root-secret');
  await etcdctl('user', 'grant-role', 'root', 'root');
  await etcdctl('auth', 'enable');
  const asRoot = ['--user', 'root:root-secret'];
  await etcdctl(...asRoot, 'role', 'add', 'billing');
  await etcdctl(
    ...asRoot,
    'role',
    'grant-permission',
    'billing',
    'readwrite',
    '--prefix=true',
    'billing/',
  );
  await etcdctl(...asRoot, 'user', 'add', 'app', '--new-user-password=app-secret');
  await etcdctl(...asRoot, 'user', 'grant-role', 'app', 'billing');
}, 60_000);
afterAll(() => cluster.stop());

describe('EtcdLeaseStore with etcd authentication', () => {
  it('works inside the granted prefix: locks, an elector, updateData', async () => {
    const client = cluster.client({ auth: { username: 'app', password: 'app-secret' } });
    const store = new EtcdLeaseStore({ client, prefix: 'billing/' });
    const lock = await new Locker(store).lock('invoices', { ttlMs: 2000 });
    expect(await lock.updateData({ step: 2 })).toBe(true);
    expect(await store.read('invoices')).toMatchObject({ data: '{"step":2}' });
    await lock.release();
    const elector = new Elector({ store, election: 'cron', ttlMs: 2000 });
    await elector.start();
    expect(elector.isLeader).toBe(true);
    await elector.stop();
    await store.close();
  });

  it('outside it every operation is a PermissionError, not retried, and nothing is written', async () => {
    const client = cluster.client({ auth: { username: 'app', password: 'app-secret' } });
    const store = new EtcdLeaseStore({ client, prefix: 'payroll/' });
    const locker = new Locker(store);
    const refused = await locker.tryLock('x').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PermissionError);
    expect((refused as PermissionError).message).toMatch(/permission denied/);
    await expect(store.read('x')).rejects.toBeInstanceOf(PermissionError);
    await expect(locker.list('')).rejects.toBeInstanceOf(PermissionError);
    await store.close();
    const root = cluster.client({ auth: { username: 'root', password: 'root-secret' } });
    const left = await root.getAll().prefix('payroll/').keys();
    expect(left).toEqual([]);
    // The etcd lease granted for the refused attempt was revoked, not left to expire.
    await expect
      .poll(async () => (await root.leaseClient.leaseLeases()).leases.length, { timeout: 3000 })
      .toBe(0);
  });

  it('a watch outside the prefix is refused as a PermissionError, once, without a reconnect loop', async () => {
    const client = cluster.client({ auth: { username: 'app', password: 'app-secret' } });
    let streams = 0;
    const counting = {
      kv: client.kv,
      leaseClient: client.leaseClient,
      watchClient: {
        watch: (...args: Parameters<typeof client.watchClient.watch>) => {
          streams++;
          return client.watchClient.watch(...args);
        },
      },
    } as unknown as Etcd3;
    const store = new EtcdLeaseStore({ client: counting, prefix: 'payroll/' });
    await expect(store.subscribe('x', () => undefined)).rejects.toBeInstanceOf(PermissionError);
    await new Promise((r) => setTimeout(r, 1000));
    expect(streams).toBe(1);
    await store.close();
  });

  it('a wrong password is a PermissionError too', async () => {
    const client = cluster.client({ auth: { username: 'app', password: 'wrong' } });
    const store = new EtcdLeaseStore({ client, prefix: 'billing/' });
    await expect(store.read('x')).rejects.toBeInstanceOf(PermissionError);
    await store.close();
  });
});
