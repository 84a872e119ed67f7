/**
 * Metrics, /healthz and /leader of a running elector on a private
 * redis-server, scraped over real HTTP on 127.0.0.1.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { serveElection } from '../../src/http/election-server.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { prometheusMetrics, stopEventLoopMonitor } from '../../src/metrics/prometheus.js';
import { sample } from '../helpers/prom-text.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server.stop();
});

const timing = { ttlMs: 1000, renewMs: 250, retryMs: 200, retryJitterMs: 20 };

async function setup(identity: string, registry: Registry, namespace: string) {
  const store = new RedisLeaseStore({
    client: server.client({ maxRetriesPerRequest: 1 }),
    namespace,
  });
  const elector = new Elector({
    store,
    election: 'jobs',
    identity,
    ...timing,
    data: { identity },
    metrics: prometheusMetrics({ registry, kubernetesCompat: true }),
  });
  elector.on('error', () => undefined);
  const http = await serveElection({ elector, registry });
  return { store, elector, http };
}

const get = async (url: string): Promise<{ status: number; text: string }> => {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
};

describe('metrics and HTTP endpoints', () => {
  it('exposes series that follow the transitions, shared by two electors through labels', async () => {
    const registry = new Registry();
    const ns = uniqueNamespace();
    const a = await setup('a', registry, ns);
    await a.elector.start();
    const b = await setup('b', registry, ns); // a second provider on the same registry: no throw
    await b.elector.start();
    try {
      let m = (await get(`${a.http.url}/metrics`)).text;
      expect(sample(m, 'tenure_is_leader', { election: 'jobs', identity: 'a' })).toBe(1);
      expect(sample(m, 'tenure_is_leader', { election: 'jobs', identity: 'b' })).toBe(0);
      expect(sample(m, 'tenure_term', { identity: 'a' })).toBe(a.elector.term);
      expect(sample(m, 'tenure_elected_total', { identity: 'a' })).toBe(1);
      expect(sample(m, 'tenure_elected_total', { identity: 'b' })).toBe(0);
      expect(
        sample(m, 'tenure_acquire_attempts_total', { identity: 'a', result: 'acquired' }),
      ).toBe(1);
      expect(
        sample(m, 'tenure_acquire_attempts_total', { identity: 'b', result: 'held' }),
      ).toBeGreaterThanOrEqual(1);
      expect(sample(m, 'tenure_lease_remaining_seconds', { identity: 'a' })).toBeGreaterThan(0.5);
      expect(sample(m, 'tenure_lease_ttl_seconds', { identity: 'a' })).toBe(1);
      expect(sample(m, 'leader_election_master_status', { name: 'jobs' })).toBe(1);
      expect(
        sample(m, 'tenure_event_loop_delay_seconds', { quantile: '0.99' }),
      ).toBeGreaterThanOrEqual(0);
      await new Promise((r) => setTimeout(r, 600));
      m = (await get(`${a.http.url}/metrics`)).text;
      expect(
        sample(m, 'tenure_renew_duration_seconds_count', { identity: 'a' }),
      ).toBeGreaterThanOrEqual(1);

      await a.elector.resign();
      await expect.poll(() => b.elector.isLeader, { timeout: 3000 }).toBe(true);
      m = (await get(`${b.http.url}/metrics`)).text;
      expect(sample(m, 'tenure_is_leader', { identity: 'a' })).toBe(0);
      expect(sample(m, 'tenure_is_leader', { identity: 'b' })).toBe(1);
      expect(sample(m, 'tenure_revoked_total', { identity: 'a', reason: 'released' })).toBe(1);
      expect(sample(m, 'tenure_elected_total', { identity: 'b' })).toBe(1);
      expect(sample(m, 'tenure_leader_changes_total', { identity: 'b' })).toBeGreaterThanOrEqual(2);
      expect(sample(m, 'tenure_term', { identity: 'a' })).toBeUndefined();
      expect(m).not.toMatch(/token="/);
    } finally {
      for (const x of [a, b]) {
        await x.elector.stop();
        await x.http.close();
        await x.store.close();
      }
      stopEventLoopMonitor(registry);
    }
  });

  it('/leader reports the same leader as elector.leader; unknown paths 404, writes 405', async () => {
    const registry = new Registry();
    const ns = uniqueNamespace();
    const a = await setup('a', registry, ns);
    await a.elector.start();
    try {
      const body = JSON.parse((await get(`${a.http.url}/leader`)).text) as {
        leader: unknown;
        self: { isLeader: boolean; term: number };
      };
      expect(body.leader).toEqual(JSON.parse(JSON.stringify(a.elector.leader)));
      expect(body.leader).toMatchObject({ identity: 'a', isSelf: true, data: { identity: 'a' } });
      expect(body.self).toMatchObject({ isLeader: true, term: a.elector.term });
      expect((await get(`${a.http.url}/nope`)).status).toBe(404);
      expect((await fetch(`${a.http.url}/leader`, { method: 'POST' })).status).toBe(405);
    } finally {
      await a.elector.stop();
      await a.http.close();
      await a.store.close();
      stopEventLoopMonitor(registry);
    }
  });

  it('/healthz turns 503 when the store stops while leading, and 200 again after it returns', async () => {
    const registry = new Registry();
    const ns = uniqueNamespace();
    const a = await setup('a', registry, ns);
    await a.elector.start();
    try {
      expect((await get(`${a.http.url}/healthz`)).status).toBe(200);
      server.signal('SIGSTOP');
      try {
        await expect
          .poll(async () => (await get(`${a.http.url}/healthz`)).status, {
            timeout: 5000,
            interval: 50,
          })
          .toBe(503);
        const health = JSON.parse((await get(`${a.http.url}/healthz`)).text) as { problem: string };
        expect(health.problem).toMatch(/not renewed|store failing|deadline/);
      } finally {
        server.signal('SIGCONT');
      }
      await expect
        .poll(async () => (await get(`${a.http.url}/healthz`)).status, {
          timeout: 10_000,
          interval: 100,
        })
        .toBe(200);
    } finally {
      await a.elector.stop();
      await a.http.close();
      await a.store.close();
      stopEventLoopMonitor(registry);
    }
  });
});
