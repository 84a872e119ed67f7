/**
 * The fault suite's PostgreSQL column: the same harness, proxies, checkers
 * and history format as the Redis tier, with a private PostgreSQL as the
 * lease server (each elector's pool and LISTEN connection go through its own
 * FaultProxy). Every safe scenario requires 0 overlaps, 0 containment,
 * fencing and resurrection violations; the must-fire ones (PU*) fail unless
 * the checker reports what the docs warn about.
 */
import { describe, expect, it } from 'vitest';
import { F_CRASH, type Scenario, T, sleep } from './harness.js';
import { gracefulStop, handOver, leaderCrash, serverStall } from './cases.js';
import { evs, t, termsAround, terms } from './queries.js';
import { type Result, scenario } from './scenario-runner.js';

const PG = { backend: 'postgres' } as const;
const BOUNCED = { backend: 'postgres', pgbouncer: true } as const;

describe('fault suite: PostgreSQL', () => {
  for (const [id, options, where] of [
    ['PQ', PG, ''],
    ['PB', BOUNCED, ' (through PgBouncer, transaction pooling; LISTEN direct)'],
  ] as const) {
    it(`${id}1 leader crash (SIGKILL)${where}: a new leader within F_crash, with a higher term`, () =>
      leaderCrash(options, 1500));

    it(`${id}2 graceful stop${where}: the next leader is woken by NOTIFY within F_release`, () =>
      gracefulStop(options));

    it(`${id}5 server stalled (SIGSTOP of the postmaster and every backend for 1.5T)${where}: the leader steps down by its deadline; a leader again within F_crash of SIGCONT`, () =>
      serverStall(options, (s, frozen) => s.postgres.signal(frozen ? 'SIGSTOP' : 'SIGCONT')));
  }

  it("PQ3 every elector's backends terminated (pg_terminate_backend, LISTEN included): no leadership change", async () => {
    let terminated = 0n;
    await scenario(
      PG,
      async (s) => {
        await s.leader();
        await sleep(1500);
        terminated = s.mark('terminate', 'start');
        const { rows } = await s.pgAdmin.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
        );
        expect(rows[0]?.n).toBeGreaterThanOrEqual(3);
        await sleep(2000);
      },
      (r) => {
        expect(terms(r)).toHaveLength(1);
        // The leader kept renewing on new connections.
        expect(
          evs(r, 'renew_reply').some((e) => t(e) > terminated + 500_000_000n && e.result === 'ok'),
        ).toBe(true);
      },
    );
  });

  for (const mode of ['fast', 'immediate'] as const) {
    it(`PQ4${mode === 'fast' ? 'f' : 'i'} server restart (${mode} shutdown, data kept): the leader steps down by its deadline if the outage outlasts it; a leader again within F_crash of the restart, terms increasing`, async () => {
      let restarted = 0n;
      await scenario(
        PG,
        async (s) => {
          await s.leader();
          await sleep(1500);
          s.mark(`restart-${mode}`, 'start');
          if (mode === 'fast') await s.postgres.restart();
          else await s.postgres.restartImmediate();
          restarted = s.mark(`restart-${mode}`, 'end');
          await sleep(2500);
        },
        (r) => {
          const leaderAfter = r.intervals.some(
            (i) => i.e > restarted + BigInt(F_CRASH) * 1_000_000n,
          );
          expect(leaderAfter).toBe(true);
        },
      );
    });
  }

  /**
   * The lease table restored from an older dump while the current leader is
   * cut off: the restored row carries a term from before two hand-overs.
   */
  const restore = { snapshotTerm: 0, restored: 0n };
  async function restoreOlderDump(s: Scenario): Promise<void> {
    let leader = await s.leader();
    restore.snapshotTerm = leader.leading as number;
    await sleep(500);
    const dump = await s.pgAdmin.query(`SELECT * FROM "${s.namespace}"`);
    leader = await handOver(s, leader, 2);
    leader.proxy.stall();
    s.mark('restore-dump', 'start');
    const client = await s.pgAdmin.connect();
    try {
      await client.query('BEGIN');
      await client.query(`TRUNCATE "${s.namespace}"`);
      for (const row of dump.rows as Record<string, unknown>[]) {
        const columns = Object.keys(row);
        await client.query(
          `INSERT INTO "${s.namespace}" (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          columns.map((c) => row[c]),
        );
      }
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    restore.restored = s.mark('restore-dump', 'end');
    leader.proxy.heal('reset');
    await sleep(2500);
  }
  const aroundRestore = (r: Result) => termsAround(r, restore.restored);

  it('PU7 table restored from an older dump, with the naive term rule (term + 1): a term is issued twice', async () => {
    const r = await scenario(
      { ...PG, legacyTerms: true },
      restoreOlderDump,
      () => undefined,
      false,
    );
    const { before, after } = aroundRestore(r);
    expect(before).toHaveLength(3);
    expect(before).toContain(after); // a term issued before, issued again
    expect(r.fencing.join('\n')).toMatch(/not greater/);
  });

  it('PQ7 the same restore with the shipped rule greatest(term + 1, server µs): terms stay above every earlier one (gate)', async () => {
    const r = await scenario(PG, restoreOlderDump, () => undefined);
    const { before, after } = aroundRestore(r);
    expect(before).toHaveLength(3);
    expect(after).toBeGreaterThan(Math.max(...before));
    expect(r.fencing).toEqual([]);
  });

  /**
   * A streaming standby replicating through a proxy; the replication link
   * stalls and the leader keeps renewing on the primary for 0.8T and while
   * the standby is promoted (however long that takes); then the old
   * leader's own link stalls, every other elector (plus a fresh one) is
   * pointed at the promoted standby, and the old primary is SIGKILLed. The
   * overlap window of the asynchronous case (the old leader's belief after
   * its last renewal, against the standby's stale copy) does not depend on
   * how long the promotion took.
   */
  const seen = { proc: '', standbyExpiry: 0n, warning: '' };
  async function failover(s: Scenario): Promise<void> {
    const leader = await s.leader();
    seen.proc = leader.proc;
    const { PostgresLeaseStore } = await import('../../src/lock/postgres/postgres-store.js');
    seen.warning = (
      await new PostgresLeaseStore({
        pool: s.pgAdmin,
        table: s.namespace,
        listen: false,
      }).diagnose()
    ).join('\n');
    await sleep(1000);
    s.replicationLink?.stall(); // renewals on the primary stop reaching the standby
    s.mark('replication-stall', 'start');
    await sleep(0.8 * T);
    const standby = s.standby;
    if (!standby) throw new Error('no standby');
    await standby.promote();
    const admin = standby.pool({ max: 1 });
    const sentAt = process.hrtime.bigint();
    const { rows } = await admin.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::float8 AS ms FROM "${s.namespace}" WHERE name = 'q'`,
    );
    const ms = rows[0]?.ms ?? 0;
    seen.standbyExpiry = sentAt + BigInt(Math.max(0, Math.round(ms))) * 1_000_000n;
    leader.proxy.stall(); // the old leader learns nothing from now on
    for (const w of s.workers) {
      if (w === leader) continue;
      w.proxy.retarget(standby.port);
      w.proxy.reset();
    }
    await s.spawn('fresh', undefined, { port: standby.port });
    await s.postgres.kill();
    await sleep(2500);
  }
  const oldLeaderEnd = (r: Result): bigint =>
    r.intervals.filter((i) => i.proc === seen.proc).reduce((m, i) => (i.e > m ? i.e : m), 0n);

  it('PU4 fail-over to an asynchronous standby that missed renewals: at least one overlap, and diagnose() warned', async () => {
    const r = await scenario({ ...PG, standby: true }, failover, () => undefined, false);
    expect(seen.warning).toMatch(/without synchronous commit/);
    expect(r.overlaps.length).toBeGreaterThanOrEqual(1);
    expect(oldLeaderEnd(r)).toBeGreaterThan(seen.standbyExpiry); // it trusted renewals the standby never saw
  });

  it('PQ8 the same fail-over with synchronous_commit = remote_apply and a synchronous standby: no overlap (gate)', async () => {
    const r = await scenario(
      { ...PG, standby: true, synchronousStandby: true },
      failover,
      () => undefined,
    );
    expect(seen.warning).not.toMatch(/synchronous/);
    expect(r.overlaps).toEqual([]);
    expect(oldLeaderEnd(r)).toBeGreaterThan(0n);
    expect(oldLeaderEnd(r)).toBeLessThanOrEqual(seen.standbyExpiry); // belief ended before the standby's copy could expire
    expect(r.history.some((e) => e.ev === 'became_leader' && e.proc !== seen.proc)).toBe(true);
  });
});
