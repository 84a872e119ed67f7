/**
 * Scenarios that run unchanged on every backend (the store is the harness's
 * option): the fault, then what must hold. Used by quick.test.ts (Redis),
 * postgres.test.ts (PostgreSQL, directly and through PgBouncer) and
 * etcd.test.ts.
 */
import { expect } from 'vitest';
import { timeToLeader } from './checkers.js';
import {
  F_CRASH,
  F_RELEASE,
  type Scenario,
  type ScenarioOptions,
  T,
  type Worker,
  msBetween,
  sleep,
} from './harness.js';
import type { HistoryEvent } from './history.js';
import { evs, stepDown, t } from './queries.js';
import { scenario } from './scenario-runner.js';

/**
 * SIGKILL of the leader after `settleMs`: a new leader within `boundMs` (F_crash; a store
 * that frees expired leases late, as etcd does, passes its own), with a higher term.
 */
export async function leaderCrash(
  options: ScenarioOptions,
  settleMs = 2000,
  boundMs = F_CRASH,
): Promise<void> {
  let killed = 0n;
  let old = 0;
  await scenario(
    options,
    async (s) => {
      const leader = await s.leader();
      await sleep(settleMs);
      old = leader.leading as number;
      killed = s.mark('sigkill', 'start');
      leader.child.kill('SIGKILL');
      await sleep(2500);
    },
    (r) => {
      const next = evs(r, 'became_leader').find((e) => t(e) > killed);
      expect(next).toBeDefined();
      expect(msBetween(killed, t(next as HistoryEvent))).toBeLessThanOrEqual(boundMs);
      expect((next as { term: number }).term).toBeGreaterThan(old);
    },
  );
}

/**
 * The leader stops gracefully: the next leader (woken by the release notification) within
 * F_release. `before` runs first, once the leader has settled (a fault the notification
 * path must survive; it resolves once a leader exists again), and the leader then is stopped.
 */
export async function gracefulStop(
  options: ScenarioOptions,
  before?: (s: Scenario) => Promise<void>,
): Promise<void> {
  let stopped = 0n;
  await scenario(
    options,
    async (s) => {
      let leader = await s.leader();
      await sleep(1500);
      if (before) {
        await before(s);
        await sleep(1500);
        leader = await s.leader(); // the fault may have moved leadership
      }
      stopped = s.mark('stop', 'start');
      leader.child.send({ cmd: 'stop' });
      await sleep(2000);
    },
    (r) => {
      const next = evs(r, 'became_leader').find((e) => t(e) > stopped);
      expect(next).toBeDefined();
      expect(msBetween(stopped, t(next as HistoryEvent))).toBeLessThanOrEqual(F_RELEASE);
    },
  );
}

/**
 * The lease server frozen for 1.5T by `freeze(true)` and thawed by `freeze(false)`: the
 * leader steps down by its deadline (within 50 ms of it), while the server is frozen, and a
 * leader is back within F_crash of the thaw.
 */
export async function serverStall(
  options: ScenarioOptions,
  freeze: (s: Scenario, frozen: boolean) => void | Promise<void>,
  boundMs = F_CRASH,
): Promise<void> {
  let stopped = 0n;
  let thawed = 0n;
  let proc = '';
  await scenario(
    options,
    async (s) => {
      const leader = await s.leader();
      proc = leader.proc;
      await sleep(1500);
      stopped = s.mark('server-freeze', 'start');
      await freeze(s, true);
      await sleep(1.5 * T);
      thawed = s.mark('server-freeze', 'end');
      await freeze(s, false);
      await sleep(2500);
    },
    (r) => {
      const sd = stepDown(r, proc, stopped);
      expect(sd?.down.reason).toBe('deadline');
      expect(sd?.lateMs).toBeLessThanOrEqual(50);
      expect(t(sd?.down as HistoryEvent)).toBeLessThan(thawed);
      expect(timeToLeader(r.history, thawed)).toBeLessThanOrEqual(boundMs);
    },
  );
}

/** `times` graceful hand-overs (the leader stopped with SIGTERM, a waiting elector takes over); returns the last leader. */
export async function handOver(s: Scenario, leader: Worker, times: number): Promise<Worker> {
  let current = leader;
  for (let i = 0; i < times; i++) {
    const exited = new Promise<void>((resolve) => current.child.once('exit', () => resolve()));
    current.child.kill('SIGTERM'); // stop(): releases, a waiting elector takes over
    await exited;
    current = await s.leader();
    await sleep(300);
  }
  return current;
}
