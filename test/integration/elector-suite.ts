/**
 * The Elector against a private server of each backend (Redis, PostgreSQL, etcd),
 * the same tests for every one. Electors that receive signals run in their
 * own processes; the rest run in this one. Bounds are generous (CI machines
 * are noisy); measured latencies belong to the benchmarks.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import type { LeaseStore } from '../../src/lock/lease-store.js';
import type { WorkerConfig } from '../helpers/elector-worker.js';
import { WorkerProcess } from '../helpers/worker-process.js';

/** What the suite needs from a backend. */
export interface ElectorBackend {
  readonly label: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A fresh namespace (Redis), table (PostgreSQL) or key prefix (etcd), ready to use. */
  namespace(): Promise<string>;
  /** A store on `namespace` for an elector in this process, and how to close what it opened. */
  store(namespace: string): { store: LeaseStore; close: () => Promise<unknown> };
  /** What a worker process needs to reach the server (see elector-worker.ts). */
  worker(): Pick<
    WorkerConfig,
    'port' | 'postgres' | 'directPort' | 'etcd' | 'redisCluster' | 'sentinels'
  >;
  /** SIGKILL the server (every member of a cluster); `restart()` brings it back with its data. */
  kill(): Promise<void>;
  restart(): Promise<void>;
}

const timing = { ttlMs: 1000, renewMs: 250, retryMs: 200, retryJitterMs: 50 };

export function electorSuite(backend: ElectorBackend): void {
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    await backend.start();
  });
  afterEach(async () => {
    await WorkerProcess.killAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await backend.stop();
  });

  function inProcess(
    namespace: string,
    identity: string,
    extra: { campaign?: boolean; data?: unknown } = {},
  ): Elector {
    const { store, close } = backend.store(namespace);
    const elector = new Elector({ store, election: 'cron', identity, ...timing, ...extra });
    elector.on('error', () => undefined);
    cleanups.push(async () => {
      await elector.stop();
      await store.close();
      await close();
    });
    return elector;
  }

  function worker(namespace: string, identity: string): WorkerProcess {
    return new WorkerProcess({
      ...backend.worker(),
      namespace,
      election: 'cron',
      identity,
      ...timing,
    });
  }

  function workers(namespace: string, count: number): WorkerProcess[] {
    return Array.from({ length: count }, (_, i) => worker(namespace, `w${i}`));
  }

  async function oneLeader(list: WorkerProcess[], timeoutMs = 5000): Promise<WorkerProcess> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leaders = list.filter((w) => w.isLeader);
      if (leaders.length > 1)
        throw new Error(`two leaders: ${leaders.map((w) => w.identity).join(', ')}`);
      if (leaders.length === 1) return leaders[0] as WorkerProcess;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('no leader');
  }

  const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

  describe(`Elector on ${backend.label}`, () => {
    it('elects exactly one of 5 electors, and every other reports it', async () => {
      const ns = await backend.namespace();
      const list = workers(ns, 5);
      await Promise.all(list.map((w) => w.next((m) => m.ev === 'ready')));
      const leader = await oneLeader(list);
      for (const w of list) {
        await w.next((m) => m.ev === 'leader' && m.identity === leader.identity);
      }
      await new Promise((r) => setTimeout(r, 1500)); // several lease periods: still one leader, no change
      expect(list.filter((w) => w.isLeader)).toEqual([leader]);
      expect(leader.messages.filter((m) => m.ev === 'elected')).toHaveLength(1);
    });

    it('hands over to another elector when the leader stops', async () => {
      const ns = await backend.namespace();
      const list = workers(ns, 3);
      await Promise.all(list.map((w) => w.next((m) => m.ev === 'ready')));
      const first = await oneLeader(list);
      const firstTerm = (first.messages.find((m) => m.ev === 'elected') as { term: number }).term;
      const stopAt = process.hrtime.bigint();
      await first.stop();
      const rest = list.filter((w) => w !== first);
      const second = await oneLeader(rest, 3000);
      const elected = await second.next((m) => m.ev === 'elected');
      expect((elected as { term: number }).term).toBeGreaterThan(firstTerm);
      expect(first.messages).toContainEqual(
        expect.objectContaining({ ev: 'revoked', reason: 'stopped' }),
      );
      // Woken by the release notification, not by the lease expiring.
      console.info(
        `hand-over: stop() to elected in ${ms(stopAt, elected.at).toFixed(1)} ms (includes the IPC round trip)`,
      );
      expect(ms(stopAt, elected.at)).toBeLessThan(timing.ttlMs);
    });

    it('fails over within ttlMs + retryMs + slack after SIGKILL of the leader', async () => {
      const ns = await backend.namespace();
      const list = workers(ns, 3);
      await Promise.all(list.map((w) => w.next((m) => m.ev === 'ready')));
      const first = await oneLeader(list);
      const killedAt = process.hrtime.bigint();
      await first.kill();
      const rest = list.filter((w) => w !== first);
      const second = await oneLeader(rest, 5000);
      const elected = await second.next((m) => m.ev === 'elected');
      const failover = ms(killedAt, elected.at);
      console.info(
        `fail-over: SIGKILL to elected in ${failover.toFixed(1)} ms (ttlMs ${timing.ttlMs})`,
      );
      expect(failover).toBeLessThan(timing.ttlMs + timing.retryMs + 1000);
    });

    it('after SIGSTOP for 2 × ttlMs another leads, and the paused one is not leader on its first check', async () => {
      const ns = await backend.namespace();
      const list = workers(ns, 3);
      await Promise.all(list.map((w) => w.next((m) => m.ev === 'ready')));
      const first = await oneLeader(list);
      const mark = first.messages.length;
      first.signal('SIGSTOP');
      const stoppedAt = process.hrtime.bigint();
      const rest = list.filter((w) => w !== first);
      const second = await oneLeader(rest, 5000);
      const elected = await second.next((m) => m.ev === 'elected');
      expect(ms(stoppedAt, elected.at)).toBeLessThan(timing.ttlMs + timing.retryMs + 1000);
      const remaining = 2 * timing.ttlMs - ms(stoppedAt, process.hrtime.bigint());
      if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
      first.signal('SIGCONT');
      const probe = await first.next((m) => m.ev === 'probe', 5000, mark);
      expect(probe).toMatchObject({ isLeader: false });
      const revoked = await first.next((m) => m.ev === 'revoked', 5000, mark);
      expect(revoked).toMatchObject({ reason: 'deadline' });
      await new Promise((r) => setTimeout(r, 500));
      expect(first.isLeader).toBe(false);
      expect(list.filter((w) => w.isLeader)).toEqual([second]);
    });

    it('steps down by its deadline when the store server dies, and a leader returns with a higher term after restart', async () => {
      const ns = await backend.namespace();
      const a = inProcess(ns, 'a');
      const b = inProcess(ns, 'b');
      const revoked: { reason: string; at: number }[] = [];
      for (const e of [a, b])
        e.on('revoked', ({ reason }) => revoked.push({ reason, at: performance.now() }));
      await a.start();
      await b.start();
      const leader = a.isLeader ? a : b;
      const term = leader.term as number;
      const killedAt = performance.now();
      await backend.kill();
      await expect.poll(() => revoked.length, { timeout: 3000, interval: 10 }).toBe(1);
      expect(revoked[0]?.reason).toBe('deadline');
      // Validity ends at t_send + 988 of the last renewal, which was sent before the kill.
      expect((revoked[0]?.at as number) - killedAt).toBeLessThan(timing.ttlMs + 200);
      expect(leader.isLeader).toBe(false);
      await backend.restart();
      await expect
        .poll(() => (a.isLeader ? 1 : 0) + (b.isLeader ? 1 : 0), { timeout: 10_000, interval: 20 })
        .toBe(1);
      const next = (a.isLeader ? a.term : b.term) as number;
      expect(next).toBeGreaterThan(term);
    });

    it('updateData publishes new data under the same term, and observers see it', async () => {
      const ns = await backend.namespace();
      const observer = inProcess(ns, 'observer', { campaign: false });
      const seen: unknown[] = [];
      observer.on('leader', (l) => seen.push(l && { term: l.term, data: l.data }));
      await observer.start();
      const a = inProcess(ns, 'a', { data: { v: 1 } });
      expect(await a.updateData({ v: 1 })).toBe(false); // not leading yet: kept for its term
      await a.start();
      const term = a.term as number;
      await expect.poll(() => seen, { timeout: 3000 }).toEqual([{ term, data: { v: 1 } }]);
      expect(await a.updateData({ v: 2 })).toBe(true);
      expect(a.leader).toMatchObject({ term, data: { v: 2 }, isSelf: true });
      await expect
        .poll(() => seen, { timeout: 3000 })
        .toEqual([
          { term, data: { v: 1 } },
          { term, data: { v: 2 } },
        ]);
      expect(a.term).toBe(term);
      expect(a.history).toHaveLength(1);
      // The next term publishes the latest data from its first acquisition.
      await a.resign();
      await expect.poll(() => a.term !== null && a.term > term, { timeout: 5000 }).toBe(true);
      await expect
        .poll(() => seen.at(-1), { timeout: 3000 })
        .toEqual({
          term: a.term,
          data: { v: 2 },
        });
    });

    it('observe mode reports every change, including vacancy', async () => {
      const ns = await backend.namespace();
      const observer = inProcess(ns, 'observer', { campaign: false });
      const seen: (string | null)[] = [];
      observer.on('leader', (l) => seen.push(l?.identity ?? null));
      await observer.start();
      expect(observer.leader).toBeNull();
      const a = inProcess(ns, 'a');
      await a.start();
      await expect.poll(() => seen, { timeout: 3000 }).toEqual(['a']);
      await a.stop();
      await expect.poll(() => seen, { timeout: 3000 }).toEqual(['a', null]);
      const b = inProcess(ns, 'b');
      await b.start();
      await expect.poll(() => seen, { timeout: 3000 }).toEqual(['a', null, 'b']);
      expect(observer.isLeader).toBe(false);
      // A crashed leader (stopped renewing without releasing) is reported vacant at its expiry.
      const crashed = worker(ns, 'w');
      await crashed.next((m) => m.ev === 'ready');
      await b.stop();
      await expect.poll(() => seen.at(-1), { timeout: 3000 }).toBe('w');
      await crashed.kill();
      await expect.poll(() => seen.at(-1), { timeout: 4000 }).toBeNull();
    });
  });
}
