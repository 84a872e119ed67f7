/**
 * The fault suite's etcd column: the same harness, checkers and history
 * format, with a private 3-member etcd cluster as the lease server. Each
 * elector's client knows every member (each behind a proxy); the members
 * reach each other through proxies too. Every safe scenario requires 0
 * overlaps, 0 containment, fencing and resurrection violations; the
 * must-fire one (EU*) fails unless the checker reports what the docs warn
 * about.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { timeToLeader } from './checkers.js';
import { gracefulStop, handOver, leaderCrash, serverStall } from './cases.js';
import { F_CRASH, type Scenario, T, msBetween, sleep } from './harness.js';
import { termsAround } from './queries.js';
import { type Result, scenario } from './scenario-runner.js';

const ETCD = { backend: 'etcd' } as const;
/**
 * etcd frees a crashed holder's name when its etcd lease (ceil(T / 1 s) = 1 s here) has
 * run out and the lessor's 500 ms tick has deleted it: F_crash plus that tick.
 */
const F_CRASH_ETCD = F_CRASH + 500;
const snapshots = mkdtempSync(join(tmpdir(), 'tenure-etcd-fault-'));
afterAll(() => rmSync(snapshots, { recursive: true, force: true }));

/** A tenure leader exists at every moment from `from + boundMs` until the end. */
function leaderThroughout(r: Result, from: bigint, boundMs: number): void {
  const start = from + BigInt(boundMs) * 1_000_000n;
  const covering = r.intervals.filter((i) => i.s <= r.end && i.e >= start);
  expect(covering.length, 'a leader after the fault').toBeGreaterThan(0);
}

/**
 * `apply` on the member that is the etcd Raft leader once the tenure leader has settled,
 * `undo` after `holdMs`: the safety checkers (by `scenario`), and a tenure leader at every
 * moment from F_crash + 500 ms after the fault (leadership continues or moves in time).
 */
async function raftLeaderFault(
  kind: string,
  holdMs: number,
  apply: (s: Scenario, member: number) => unknown,
  undo: (s: Scenario, member: number) => unknown,
): Promise<void> {
  let started = 0n;
  await scenario(
    ETCD,
    async (s) => {
      await s.leader();
      await sleep(1500);
      const member = await s.etcd.leaderIndex();
      started = s.mark(kind, 'start');
      await apply(s, member);
      await sleep(holdMs);
      await undo(s, member);
      s.mark(kind, 'end');
      await sleep(2000);
    },
    (r) => leaderThroughout(r, started, F_CRASH_ETCD),
  );
}

describe('fault suite: etcd (3 members)', () => {
  it('EQ1 leader crash (SIGKILL): a new leader within F_crash + 500 ms (etcd deletes expired leases on a 500 ms tick), with a higher term', () =>
    leaderCrash(ETCD, 1500, F_CRASH_ETCD));

  it("EQ2 graceful stop: the next leader is woken by etcd's watch within F_release", () =>
    gracefulStop(ETCD));

  it('EQ3 SIGKILL of the etcd Raft leader while the tenure leader renews (restarted after 2.5 s): no overlap, a tenure leader within F_crash + 500 ms', () =>
    raftLeaderFault(
      'sigkill-etcd-leader',
      2500,
      (s, i) => s.etcd.members[i]?.terminate('SIGKILL'),
      (s, i) => s.etcd.restart(i),
    ));

  it('EQ4 SIGSTOP of the etcd Raft leader for 1.5T (clients keep connections to it): no overlap, a tenure leader within F_crash + 500 ms', () =>
    raftLeaderFault(
      'sigstop-etcd-leader',
      1.5 * T,
      (s, i) => s.etcd.members[i]?.signal('SIGSTOP'),
      (s, i) => s.etcd.members[i]?.signal('SIGCONT'),
    ));

  it('EQ5 the etcd Raft leader partitioned from the other members for 2T: no overlap, a tenure leader within F_crash + 500 ms', () =>
    raftLeaderFault(
      'partition-etcd-leader',
      2 * T,
      (s, i) => s.etcd.partition(i, true),
      (s, i) => s.etcd.partition(i, false),
    ));

  it('EQ6 quorum lost (2 of 3 members SIGKILLed for 1.5T): the leader steps down by its deadline; a leader again after quorum returns, with a higher term', () =>
    serverStall(
      ETCD,
      async (s, frozen) => {
        const victims = s.etcd.members.slice(0, 2);
        if (frozen) await Promise.all(victims.map((m) => m.terminate('SIGKILL')));
        else await Promise.all([0, 1].map((i) => s.etcd.restart(i)));
      },
      // The two members start again after the thaw mark (about a second), then elect.
      F_CRASH_ETCD + 2000,
    ));

  it('EQ7 every member restarted from its data directory: a leader again, every term above every earlier one', async () => {
    let stopped = 0n;
    let restarted = 0n;
    await scenario(
      ETCD,
      async (s) => {
        await s.leader();
        await sleep(1500);
        stopped = s.mark('restart-cluster', 'start');
        await s.etcd.restartAll();
        restarted = s.mark('restart-cluster', 'end');
        await sleep(3000);
      },
      (r) => {
        // restartAll() resolves once every member answers, which may come after the
        // first election on the restarted cluster: terms are compared around the stop.
        const { before, after } = termsAround(r, stopped);
        expect(after).toBeDefined();
        expect(after).toBeGreaterThan(Math.max(...before));
        const next = timeToLeader(r.history, stopped) ?? Infinity;
        expect(next - msBetween(stopped, restarted)).toBeLessThanOrEqual(F_CRASH_ETCD + T);
      },
    );
  });

  it('EQ8 compaction while followers wait: their watch streams cut and the history compacted past their revision, then a graceful stop: the next leader is still woken by the watch within F_release', () =>
    gracefulStop(ETCD, async (s) => {
      const admin = s.etcd.client();
      s.mark('compaction', 'start');
      for (const m of s.etcd.members) {
        m.clientProxy?.refuse(true);
        m.clientProxy?.reset(); // every watch stream (and connection) gone
      }
      await admin.put(`${s.namespace}/noise`).value('x'); // a revision the watchers miss
      const { header } = await admin.kv.range({ key: Buffer.from('x') });
      await admin.kv.compact({ revision: header.revision, physical: true });
      for (const m of s.etcd.members) m.clientProxy?.refuse(false);
      s.mark('compaction', 'end');
    }));

  /** Snapshot, two hand-overs, then every member restored from the snapshot. */
  const restore = { restored: 0n };
  async function restoreOlderSnapshot(s: Scenario): Promise<void> {
    const leader = await s.leader();
    await sleep(500);
    const file = join(snapshots, `${s.namespace}.db`);
    await s.etcd.snapshot(file);
    await handOver(s, leader, 2);
    s.mark('restore-snapshot', 'start');
    await s.etcd.restoreAll(file);
    restore.restored = s.mark('restore-snapshot', 'end');
    await sleep(3000);
  }

  it("EU9 every member restored from an older snapshot, terms = the key's create revision (issue 12's proposal): a term not greater than an earlier one", async () => {
    const r = await scenario(
      { ...ETCD, revisionTerms: true },
      restoreOlderSnapshot,
      () => undefined,
      false,
    );
    const { before, after } = termsAround(r, restore.restored);
    expect(before).toHaveLength(3);
    expect(after).toBeLessThanOrEqual(Math.max(...before));
    expect(r.fencing.join('\n')).toMatch(/not greater/);
  });

  it('EQ9 the same restore with the shipped rule max(counter + 1, clock µs): terms stay above every earlier one (gate)', async () => {
    const r = await scenario(ETCD, restoreOlderSnapshot, () => undefined);
    const { before, after } = termsAround(r, restore.restored);
    expect(before).toHaveLength(3);
    expect(after).toBeGreaterThan(Math.max(...before));
    expect(r.fencing).toEqual([]);
  });
});
