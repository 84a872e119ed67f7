/**
 * Test-only: the term rule issue 12 proposed for etcd, the lease key's
 * create revision (no counter, no clock), wrapped around the shipped store.
 * Revisions grow strictly within one etcd history, but a restore from an
 * older snapshot takes them back: the must-fire scenario EU9 shows a term
 * that is not greater than an earlier one. Never used by the library.
 */
import type { Etcd3 } from 'etcd3';
import type { EtcdLeaseStore } from '../../src/lock/etcd/etcd-store.js';
import type { LeaseHolder, LeaseStore } from '../../src/lock/lease-store.js';

export function withRevisionTerms(
  store: EtcdLeaseStore,
  client: Etcd3,
  prefix: string,
): LeaseStore {
  const revision = async (name: string): Promise<number> => {
    const r = await client.kv.range({ key: Buffer.from(`${prefix}leases/${name}`) });
    return Number(r.kvs[0]?.create_revision ?? 0);
  };
  const holder = async (name: string, h: LeaseHolder): Promise<LeaseHolder> => ({
    ...h,
    term: await revision(name),
  });
  return {
    kind: store.kind,
    acquire: async (request) => {
      const result = await store.acquire(request);
      if (result.acquired) return { acquired: true, term: await revision(request.name) };
      return result.holder
        ? { ...result, holder: await holder(request.name, result.holder) }
        : result;
    },
    renew: (lease, ttlMs) => store.renew(lease, ttlMs),
    release: (lease) => store.release(lease),
    update: (lease, data) => store.update(lease, data),
    read: async (name) => {
      const h = await store.read(name);
      return h && holder(name, h);
    },
    subscribe: (name, listener) => store.subscribe(name, listener),
    close: () => store.close(),
  };
}
