/**
 * Fencing terms never repeat when the term counter comes back stale (not
 * missing): after a restart from an RDB snapshot older than the last
 * acquisitions, and after a fail-over to a replica that missed them. Real
 * private redis-servers. Each case also runs the previous acquire.lua (which
 * re-seeded only a missing counter) and requires it to reissue a term: that
 * shows the fault really brings the counter back stale.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { leaseKeys } from '../../src/lock/redis/keys.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { FaultProxy } from '../fault/proxy.js';
import { withLegacyAcquire } from '../helpers/legacy-acquire.js';
import { RedisServer, uniqueNamespace, waitForReplicas } from '../helpers/redis-server.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function started<T extends { stop(): Promise<void> } | { close(): Promise<void> }>(
  resource: Promise<T>,
): Promise<T> {
  const r = await resource;
  cleanup.push(() => ('stop' in r ? r.stop() : r.close()));
  return r;
}

/** Acquires and releases `job` once on `server`; returns the term issued. */
async function cycle(server: RedisServer, namespace: string, legacy: boolean): Promise<number> {
  const client = server.client();
  const store = new RedisLeaseStore({
    client: legacy ? withLegacyAcquire(client) : client,
    namespace,
  });
  const token = OwnershipToken.generate();
  const g = await store.acquire({ name: 'job', token, ttlMs: 5000, identity: 'me', data: '' });
  if (!g.acquired) throw new Error('not acquired');
  await store.release({ name: 'job', token, term: g.term });
  await store.close();
  client.disconnect();
  return g.term;
}

async function cycles(n: number, server: RedisServer, namespace: string, legacy: boolean) {
  const terms: number[] = [];
  for (let i = 0; i < n; i++) terms.push(await cycle(server, namespace, legacy));
  return terms;
}

describe.each([
  ['the shipped acquire.lua', false],
  ['the previous acquire.lua (must reissue a term)', true],
])('terms when the counter comes back stale, with %s', (_label, legacy) => {
  /** The shipped rule issues a term above all; the legacy one reissues one of them. */
  function expectNext(next: number, issued: readonly number[]): void {
    if (legacy) expect(issued).toContain(next);
    else expect(next).toBeGreaterThan(Math.max(...issued));
  }

  it('after a restart from an RDB snapshot older than the last acquisitions', async () => {
    const server = await started(RedisServer.start());
    const namespace = uniqueNamespace('rdb');
    const counter = leaseKeys(namespace, 'job').term;
    const issued = await cycles(3, server, namespace, legacy);
    await server.client().save();
    const saved = issued.at(-1) as number;
    issued.push(...(await cycles(3, server, namespace, legacy)));
    await server.restart(); // SIGKILL: everything after SAVE is lost; the snapshot is loaded
    expect(await server.client().get(counter)).toBe(String(saved)); // stale, not missing
    expectNext(await cycle(server, namespace, legacy), issued);
  });

  it('after a fail-over to a replica that missed the last acquisitions', async () => {
    const primary = await started(RedisServer.start());
    const link = await started(FaultProxy.start(primary.port));
    const replica = await started(primary.startReplica(link.port));
    const namespace = uniqueNamespace('failover');
    const counter = leaseKeys(namespace, 'job').term;
    const issued = await cycles(2, primary, namespace, legacy);
    await waitForReplicas(primary.client()); // the replica has these
    link.stall(); // the replica misses everything from here on
    issued.push(...(await cycles(3, primary, namespace, legacy)));
    const promoted = replica.client();
    await promoted.replicaof('NO', 'ONE');
    expect(await promoted.get(counter)).toBe(String(issued[1])); // stale, not missing
    expectNext(await cycle(replica, namespace, legacy), issued);
  });
});
