/**
 * The CI tier of the fault plan (FAULT-PLAN §2.6): real processes, real
 * signals, real redis-servers, a TCP proxy per elector. Every scenario also
 * requires 0 overlaps, 0 containment, fencing and resurrection violations.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { acquireLua } from '../../src/lock/redis/scripts.generated.js';
import { RedisServer } from '../helpers/redis-server.js';
import { timeToLeader } from './checkers.js';
import { F_CRASH, F_RELEASE, P, R, S, type Scenario, T, msBetween, sleep } from './harness.js';
import type { HistoryEvent } from './history.js';
import { handOver, leaderCrash } from './cases.js';
import { evs, stepDown, t, termsAround, terms } from './queries.js';
import { type Result, scenario } from './scenario-runner.js';

describe('fault suite: CI tier', () => {
  it('Q0 baseline: one leader, one term, every renewal succeeds, actions fenced', async () => {
    let ready = 0n;
    await scenario(
      {},
      async (s) => {
        ready = s.mark('ready', 'start');
        await sleep(6000);
      },
      (r) => {
        expect(terms(r)).toHaveLength(1);
        expect(timeToLeader(r.history, 0n)).not.toBeNull();
        const first = evs(r, 'became_leader')[0] as HistoryEvent;
        expect(msBetween(ready, t(first))).toBeLessThanOrEqual(F_RELEASE);
        expect(evs(r, 'renew_reply').every((e) => e.result === 'ok')).toBe(true);
        const accepted = evs(r, 'action').filter((e) => e.accepted);
        expect(accepted.length).toBeGreaterThanOrEqual(90);
        expect(new Set(accepted.map((e) => e.term)).size).toBe(1);
      },
    );
  });

  it('Q1 leader crash (SIGKILL): a new leader within F_crash, with a higher term', () =>
    leaderCrash({}));

  it('Q2 graceful stop: released at once, a new leader within F_release, the worker exits within 2 s', async () => {
    let stopAt = 0n;
    let exitMs = 0;
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        await sleep(2000);
        stopAt = s.mark('sigterm', 'start');
        const exited = new Promise<void>((resolve) => leader.child.once('exit', () => resolve()));
        leader.child.kill('SIGTERM');
        await exited;
        exitMs = msBetween(stopAt, process.hrtime.bigint());
        expect(await s.admin.exists(`{${s.namespace}:q}:lease`)).toBe(1); // the next leader already holds it
        await sleep(2000);
      },
      (r) => {
        const next = evs(r, 'became_leader').find((e) => t(e) > stopAt);
        expect(msBetween(stopAt, t(next as HistoryEvent))).toBeLessThanOrEqual(F_RELEASE);
        expect(evs(r, 'stepped_down').find((e) => t(e) > stopAt)?.reason).toBe('stopped');
        expect(exitMs).toBeLessThan(2000);
      },
    );
  });

  it('Q3 long pause (SIGSTOP 2T): another leads within F_crash; on CONT the old one is not leader and never acts late', async () => {
    let stopped = 0n;
    let cont = 0n;
    let proc = '';
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        proc = leader.proc;
        await sleep(1500);
        stopped = s.mark('sigstop', 'start');
        leader.child.kill('SIGSTOP');
        await sleep(2 * T);
        cont = s.mark('sigstop', 'end');
        leader.child.kill('SIGCONT');
        await sleep(2000);
      },
      (r) => {
        expect(timeToLeader(r.history, stopped, proc)).toBeLessThanOrEqual(F_CRASH);
        const firstProbe = evs(r, 'probe', proc).find((e) => t(e) >= cont);
        expect(firstProbe?.value).toBe(false);
        const sd = stepDown(r, proc, stopped);
        expect(sd?.down.reason).toBe('deadline');
        expect(msBetween(cont, t(sd?.down as HistoryEvent))).toBeLessThanOrEqual(100);
      },
    );
  });

  it('Q4 short pause (SIGSTOP 0.3T): no leadership change', async () => {
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        await sleep(1500);
        leader.child.kill('SIGSTOP');
        await sleep(0.3 * T);
        leader.child.kill('SIGCONT');
        await sleep(2000);
      },
      (r) => expect(terms(r)).toHaveLength(1),
    );
  });

  it('Q5 event-loop block 1.5T: another leads, the blocked one steps down on wake and its late reply resurrects nothing', async () => {
    let blocked = 0n;
    let proc = '';
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        proc = leader.proc;
        await sleep(1500);
        blocked = s.mark('block', 'start');
        leader.child.send({ cmd: 'block', ms: 1.5 * T });
        await sleep(1.5 * T + 2000);
      },
      (r) => {
        expect(timeToLeader(r.history, blocked, proc)).toBeLessThanOrEqual(F_CRASH);
        const end = evs(r, 'fault', proc).find((e) => e.phase === 'end') as HistoryEvent;
        const firstProbe = evs(r, 'probe', proc).find((e) => t(e) >= t(end));
        expect(firstProbe?.value).toBe(false);
        const sd = stepDown(r, proc, blocked);
        expect(sd?.down.reason).toBe('deadline');
        expect(msBetween(t(end), t(sd?.down as HistoryEvent))).toBeLessThanOrEqual(100);
      },
    );
  });

  it('Q6 small latency (60 ms each way on the leader link): no leadership change', async () => {
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        await sleep(1000);
        leader.proxy.delay('c2s', 60);
        leader.proxy.delay('s2c', 60);
        await sleep(4000);
        leader.proxy.delay('c2s', 0);
        leader.proxy.delay('s2c', 0);
        await sleep(1000);
      },
      (r) => expect(terms(r)).toHaveLength(1),
    );
  });

  it('Q7 replies delayed 1.5T for 2T, then the link reset: steps down by its deadline, late replies resurrect nothing', async () => {
    let start = 0n;
    let end = 0n;
    let proc = '';
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        proc = leader.proc;
        await sleep(1500);
        start = s.mark('reply-delay', 'start');
        leader.proxy.delay('s2c', 1.5 * T);
        await sleep(2 * T);
        leader.proxy.delay('s2c', 0);
        leader.proxy.reset();
        end = s.mark('reply-delay', 'end');
        await sleep(F_CRASH + 1000);
      },
      (r) => {
        const sd = stepDown(r, proc, start);
        expect(sd?.down.reason).toBe('deadline');
        expect(sd?.lateMs).toBeLessThanOrEqual(50);
        const next = evs(r, 'became_leader').find((e) => t(e) > start);
        expect(next).toBeDefined();
        expect(msBetween(end, t(next as HistoryEvent))).toBeLessThanOrEqual(F_CRASH);
      },
    );
  });

  it('Q8 partition (stall 2T, heal by reset): steps down by its deadline, another leads, the old one stays follower', async () => {
    let stalled = 0n;
    let proc = '';
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        proc = leader.proc;
        await sleep(1500);
        stalled = s.mark('stall', 'start');
        leader.proxy.stall();
        await sleep(2 * T);
        s.mark('stall', 'end');
        leader.proxy.heal('reset');
        await sleep(2500);
      },
      (r) => {
        expect(timeToLeader(r.history, stalled, proc)).toBeLessThanOrEqual(F_CRASH);
        const sd = stepDown(r, proc, stalled);
        expect(sd?.down.reason).toBe('deadline');
        expect(sd?.lateMs).toBeLessThanOrEqual(50);
        expect(evs(r, 'became_leader', proc).filter((e) => t(e) > stalled)).toEqual([]);
      },
    );
  });

  it('Q9 connection reset on the leader link: at most one leadership change', async () => {
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        await sleep(1500);
        leader.proxy.reset();
        await sleep(3000);
      },
      (r) => expect(terms(r).length).toBeLessThanOrEqual(2),
    );
  });

  it('Q10 the first acquisition is applied but its reply lost: it grants nothing, a leader within F_crash', async () => {
    let lost = 0n;
    await scenario(
      { electors: 0 },
      async (s) => {
        // A warm script cache, so a's first EVALSHA is applied (a cold one would answer NOSCRIPT).
        await s.admin.script('LOAD', acquireLua);
        lost = s.mark('drop-replies', 'start');
        await s.spawn('a', undefined, {
          beforeStart: (proxy) => proxy.dropRepliesFrom('evalsha', 100),
        });
        await sleep(100);
        await s.spawn('b');
        await s.spawn('c');
        await sleep(3000);
      },
      (r) => {
        const first = evs(r, 'became_leader')[0];
        expect(first).toBeDefined();
        // Measured from a's first request (the one applied without a reply), not from the
        // mark before a was spawned: process start-up on a loaded machine is not part of F_crash.
        const sent = evs(r, 'acquire_send', 'a')[0];
        expect(sent).toBeDefined();
        const applied = t(sent as HistoryEvent);
        expect(applied >= lost).toBe(true);
        expect(msBetween(applied, t(first as HistoryEvent))).toBeLessThanOrEqual(F_CRASH);
        // The lost request was applied: its lease held the name until it expired.
        expect(msBetween(applied, t(first as HistoryEvent))).toBeGreaterThan(T / 2);
        // The lost grant was never believed: a's first attempt has no ok reply recorded,
        // and a did not lead before the lease its lost request created had expired.
        expect(evs(r, 'acquire_reply', 'a')[0]?.result).not.toBe('ok');
        expect(evs(r, 'became_leader', 'a').filter((e) => msBetween(lost, t(e)) < T - 100)).toEqual(
          [],
        );
      },
    );
  });

  it('Q11 Redis crash, restart after T + 200 ms without persistence: a new leader soon after, with a higher term', async () => {
    let restarted = 0n;
    let before = 0;
    await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        await sleep(1500);
        before = leader.leading as number;
        s.mark('redis-kill', 'start');
        await s.redis.kill();
        await sleep(T + 200);
        await s.redis.restart();
        restarted = s.mark('redis-kill', 'end');
        await sleep(3000);
      },
      (r) => {
        const next = evs(r, 'became_leader').find((e) => t(e) > restarted);
        expect(next).toBeDefined();
        expect(msBetween(restarted, t(next as HistoryEvent))).toBeLessThanOrEqual(600 + S);
        expect((next as { term: number }).term).toBeGreaterThan(before);
        const down = evs(r, 'stepped_down').find((e) => e.reason === 'deadline');
        expect(down).toBeDefined();
      },
    );
  });

  for (const [id, label, fault] of [
    [
      'Q12',
      'server stall (DEBUG SLEEP 1.5)',
      (s: { admin: { call: (...a: string[]) => Promise<unknown> } }) =>
        s.admin.call('DEBUG', 'SLEEP', '1.5'),
    ],
    [
      'Q13',
      'write pause (CLIENT PAUSE 1500 WRITE)',
      (s: { admin: { call: (...a: string[]) => Promise<unknown> } }) =>
        s.admin.call('CLIENT', 'PAUSE', '1500', 'WRITE'),
    ],
  ] as const) {
    it(`${id} ${label}: the leader steps down by its deadline; a leader again within F_crash after the server wakes`, async () => {
      let woke = 0n;
      let started = 0n;
      await scenario(
        {},
        async (s) => {
          await s.leader();
          await sleep(1500);
          started = s.mark(id, 'start');
          const admin = s.redis.client();
          await fault({ admin }).catch(() => undefined);
          if (id === 'Q13') await sleep(1500);
          woke = s.mark(id, 'end');
          admin.disconnect();
          await sleep(2500);
        },
        (r) => {
          const down = evs(r, 'stepped_down').find((e) => t(e) > started);
          expect(down?.reason).toBe('deadline');
          const after = evs(r, 'became_leader').find((e) => t(e) > started);
          expect(after).toBeDefined();
          expect(msBetween(woke, t(after as HistoryEvent))).toBeLessThanOrEqual(F_CRASH);
        },
      );
    });
  }

  it('Q14 script cache loss (SCRIPT FLUSH): no leadership change', async () => {
    await scenario(
      {},
      async (s) => {
        await s.leader();
        await sleep(1500);
        await s.admin.script('FLUSH');
        await sleep(2000);
      },
      (r) => {
        expect(terms(r)).toHaveLength(1);
        expect(evs(r, 'renew_reply').every((e) => e.result === 'ok')).toBe(true);
      },
    );
  });

  it('Q15 demotion (REPLICAOF an empty server for 2 s): the leader steps down at once, nobody leads while demoted, a leader soon after promotion', async () => {
    let demoted = 0n;
    let promoted = 0n;
    let proc = '';
    const empty = await RedisServer.start();
    try {
      await scenario(
        {},
        async (s) => {
          const leader = await s.leader();
          proc = leader.proc;
          await sleep(1500);
          demoted = s.mark('demote', 'start');
          await s.admin.replicaof('127.0.0.1', String(empty.port));
          await sleep(2000);
          await s.admin.replicaof('NO', 'ONE');
          promoted = s.mark('demote', 'end');
          await sleep(1500);
        },
        (r) => {
          const sd = stepDown(r, proc, demoted);
          expect(['refused', 'lost']).toContain(sd?.down.reason);
          expect(msBetween(demoted, t(sd?.down as HistoryEvent))).toBeLessThanOrEqual(R + 50 + 100);
          expect(evs(r, 'became_leader').filter((e) => t(e) > demoted && t(e) < promoted)).toEqual(
            [],
          );
          const next = evs(r, 'became_leader').find((e) => t(e) > promoted);
          expect(msBetween(promoted, t(next as HistoryEvent))).toBeLessThanOrEqual(F_RELEASE);
        },
      );
    } finally {
      await empty.stop();
    }
  });

  it('Q17 wall-clock jumps of the electors (+1 h, then back): no leadership change', async () => {
    const lib = process.env['TENURE_LIBFAKETIME'] ?? findLibfaketime();
    const stampDir = mkdtempSync(join(tmpdir(), 'tenure-faketime-'));
    onTestFinished(() => rmSync(stampDir, { recursive: true, force: true }));
    const stampFile = join(stampDir, 'offset');
    writeFileSync(stampFile, '+0\n');
    const env = {
      LD_PRELOAD: lib,
      FAKETIME_TIMESTAMP_FILE: stampFile,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    };
    await scenario(
      { electors: 0 },
      async (s) => {
        for (const proc of ['e0', 'e1', 'e2']) await s.spawn(proc, undefined, { env });
        await s.leader();
        await sleep(1500);
        writeFileSync(stampFile, '+3600\n');
        await sleep(2000);
        writeFileSync(stampFile, '-3600\n');
        await sleep(2000);
      },
      (r) => expect(terms(r)).toHaveLength(1),
    );
  });

  it('Q16 foreign key at the lease key: a typed error naming it within 3P, no leader, no hot loop', async () => {
    let created = 0n;
    await scenario(
      { electors: 0 },
      async (s) => {
        await s.admin.hset(`{${s.namespace}:q}:lease`, 'f', 'v');
        created = s.mark('foreign', 'start');
        for (let i = 0; i < 3; i++) await s.spawn(`e${i}`);
        await sleep(3000);
      },
      (r) => {
        expect(evs(r, 'became_leader')).toEqual([]);
        const firstError = evs(r, 'error').find((e) => e.code === 'TENURE_KEY_CONFLICT');
        expect(firstError).toBeDefined();
        expect(msBetween(created, t(firstError as HistoryEvent))).toBeLessThanOrEqual(3 * P + 1000);
        for (const proc of ['e0', 'e1', 'e2']) {
          // 3 s at one attempt per P would be 15; capped backoff makes it fewer.
          expect(evs(r, 'acquire_send', proc).length).toBeLessThanOrEqual(3000 / P);
        }
      },
    );
  });

  it('Q18 harness self-test: hrtime is one axis across processes', async () => {
    let before = 0n;
    await scenario(
      { electors: 0 },
      async (s) => {
        before = process.hrtime.bigint();
        await s.spawn('e0');
        await sleep(300);
      },
      (r) => {
        const start = evs(r, 'start', 'e0')[0] as HistoryEvent;
        expect(t(start)).toBeGreaterThanOrEqual(before);
        expect(msBetween(before, t(start))).toBeLessThan(2000);
      },
    );
  });
});

describe('fault suite: must-fire tier (the checkers must report these unsafe electors)', () => {
  it('U1 naive elector (believes until a renewal fails) + SIGSTOP 2T: at least one overlap', async () => {
    const r = await scenario(
      { naive: 'no-deadline' },
      async (s) => {
        const leader = await s.leader();
        await sleep(1000);
        leader.child.kill('SIGSTOP');
        await sleep(2 * T);
        leader.child.kill('SIGCONT');
        await sleep(1500);
      },
      () => undefined,
      false,
    );
    expect(r.overlaps.length).toBeGreaterThanOrEqual(1);
  });

  it('U2 validity from reply time + one renewal reply delayed 600 ms: a containment violation', async () => {
    const r = await scenario(
      { naive: 'reply-time' },
      async (s) => {
        const leader = await s.leader();
        await sleep(1000);
        leader.proxy.delay('s2c', 600);
        await sleep(300);
        leader.proxy.delay('s2c', 0);
        await sleep(2000);
      },
      () => undefined,
      false,
    );
    expect(r.containment.length).toBeGreaterThanOrEqual(1);
  });
});

describe('fault suite: assumptions the checkers must expose, and the replication gate', () => {
  it('U3 server clock jump (PEXPIRE 1 on the lease) while the leader is cut off: at least one overlap (assumption: no server clock jump)', async () => {
    const r = await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        await sleep(1000);
        leader.proxy.stall();
        await s.admin.pexpire(`{${s.namespace}:q}:lease`, 1);
        await s.spawn('fresh'); // a new candidate campaigns at once
        await sleep(1500);
        leader.proxy.heal('reset');
        await sleep(300);
      },
      () => undefined,
      false,
    );
    expect(r.overlaps.length).toBeGreaterThanOrEqual(1);
  });

  it('U5 Redis restarted at once without persistence while the leader is cut off: at least one overlap (assumption: restart delay >= T or persistence)', async () => {
    const r = await scenario(
      {},
      async (s) => {
        const leader = await s.leader();
        await sleep(1000);
        leader.proxy.stall();
        await s.redis.restart();
        await s.spawn('fresh');
        await sleep(1500);
        leader.proxy.heal('reset');
        await sleep(300);
      },
      () => undefined,
      false,
    );
    expect(r.overlaps.length).toBeGreaterThanOrEqual(1);
    // Terms still increase across the data loss (the counter is re-seeded from TIME).
    expect(r.fencing).toEqual([]);
  });

  it('U5a the same immediate restart with appendonly yes and appendfsync always: the lease survives the restart, no overlap (gate)', async () => {
    let proc = '';
    let restarted = 0n;
    const r = await scenario(
      { redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] },
      async (s) => {
        const leader = await s.leader();
        proc = leader.proc;
        await sleep(1000);
        leader.proxy.stall();
        await s.redis.restart();
        restarted = s.mark('restart', 'end');
        await s.spawn('fresh');
        await sleep(1500);
        leader.proxy.heal('reset');
        await sleep(300);
      },
      () => undefined,
    );
    expect(r.overlaps).toEqual([]);
    // The restored lease kept the name until the cut-off leader's lease ran out.
    const oldEnd = r.intervals
      .filter((i) => i.proc === proc)
      .reduce((m, i) => (i.e > m ? i.e : m), 0n);
    const next = r.history.find((e) => e.ev === 'became_leader' && BigInt(e.t) > restarted);
    expect(next).toBeDefined();
    expect(BigInt((next as HistoryEvent).t)).toBeGreaterThanOrEqual(oldEnd);
  });

  /** The old leader's proc and the earliest time the promoted replica's copy of its lease can expire. */
  const seen = { proc: '', replicaExpiry: 0n };

  it('U5q the same immediate restart with quarantineMs = T: no overlap (gate), and a leader again after the quarantine', async () => {
    let restarted = 0n;
    const r = await scenario(
      { quarantineMs: T },
      async (s) => {
        const leader = await s.leader(T + 2000); // the first election waits out the quarantine too
        await sleep(1000);
        leader.proxy.stall();
        await s.redis.restart();
        restarted = s.mark('restart', 'end');
        await s.spawn('fresh');
        await sleep(2500);
        leader.proxy.heal('reset');
        await sleep(300);
      },
      () => undefined,
    );
    expect(r.overlaps).toEqual([]);
    const next = r.history.find((e) => e.ev === 'became_leader' && BigInt(e.t) > restarted);
    expect(next).toBeDefined();
  });

  it('U6 the restart of U5 without term-counter seeding (counter restarted at a small value): the fencing checker reports terms going back', async () => {
    const r = await scenario(
      // The shipped acquire.lua issues max(counter + 1, TIME) and so ignores a small counter;
      // the previous one counted on from any counter it found (it re-seeded only a missing one).
      { legacyAcquire: true },
      async (s) => {
        const leader = await s.leader();
        await sleep(1000);
        leader.proxy.stall();
        await s.redis.restart();
        // What a counter without seeding would do: count on from a small number. (0 or a
        // missing counter would be re-seeded from TIME even by the previous script, so 1000.)
        await s.admin.set(`{${s.namespace}:q}:term`, '1000');
        await s.spawn('fresh');
        await sleep(1500);
        leader.proxy.heal('reset');
        await sleep(300);
      },
      () => undefined,
      false,
    );
    expect(r.fencing.join('\n')).toMatch(/not greater/);
  });

  /** What the lease server's term counter held right after the restart from the snapshot. */
  const stale = { counter: '', snapshotTerm: 0, restarted: 0n };

  /**
   * A term counter that comes back stale, not missing: the lease server is
   * snapshotted (SAVE) while the first leader holds term A, two graceful
   * hand-overs issue two more terms, then the server is SIGKILLed and restarts
   * from that snapshot. Only the last leader is left (no overlap is possible);
   * it is cut off while the harness reads the restored counter, then it
   * finds its lease gone and campaigns again.
   */
  async function staleCounter(s: Scenario): Promise<void> {
    let leader = await s.leader();
    stale.snapshotTerm = leader.leading as number;
    await sleep(500);
    await s.admin.save();
    leader = await handOver(s, leader, 2);
    leader.proxy.stall();
    s.mark('stale-counter', 'start');
    await s.redis.restart(); // loads the snapshot: everything since SAVE is lost
    stale.restarted = s.mark('stale-counter', 'end');
    stale.counter = (await s.admin.get(`{${s.namespace}:q}:term`)) ?? '(missing)';
    leader.proxy.heal('reset');
    await sleep(2000);
  }

  const aroundRestart = (r: Result) => termsAround(r, stale.restarted);

  it('U7 stale (not missing) term counter with the previous acquire.lua (restart from an older RDB snapshot): the fencing checker reports a term not greater', async () => {
    const r = await scenario({ legacyAcquire: true }, staleCounter, () => undefined, false);
    expect(stale.counter).toBe(String(stale.snapshotTerm)); // stale, not missing
    const { before, after } = aroundRestart(r);
    expect(before).toHaveLength(3);
    expect(before).toContain(after); // a term issued before, issued again
    expect(r.fencing.join('\n')).toMatch(/not greater/);
  });

  it('U7f the same restart with the shipped acquire.lua: terms stay above every earlier one, 0 fencing violations (gate)', async () => {
    const r = await scenario({}, staleCounter, () => undefined);
    expect(stale.counter).toBe(String(stale.snapshotTerm)); // stale, not missing
    const { before, after } = aroundRestart(r);
    expect(before).toHaveLength(3);
    expect(after).toBeGreaterThan(Math.max(...before));
    expect(r.fencing).toEqual([]);
  });

  /**
   * A script that keeps the server busy for 0.4T on a server whose busy-reply-threshold is
   * 50 ms: every other command meanwhile gets a BUSY reply ("not now"). The leader's last
   * confirmed renewal leaves it at least T − D − R ≈ 0.74T of validity, so retrying until
   * the deadline rides it out.
   */
  const BUSY_ARGS = ['--busy-reply-threshold', '50'];
  const busy = { start: 0n, end: 0n };
  async function busyServer(s: Scenario): Promise<void> {
    await s.leader();
    await sleep(1500);
    const spinner = s.redis.client({ maxRetriesPerRequest: 0 });
    busy.start = s.mark('busy', 'start');
    await spinner.eval(
      `local t = redis.call('TIME')
       while true do
         local n = redis.call('TIME')
         if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > ${0.4 * T * 1000} then return 1 end
       end`,
      0,
    );
    busy.end = s.mark('busy', 'end');
    spinner.disconnect();
    await sleep(1500);
  }
  const busyRenewals = (r: Result) =>
    evs(r, 'renew_reply').filter(
      (e) => t(e) > busy.start && t(e) < busy.end + 100_000_000n && e.result === 'error',
    );

  it('U8 BUSY for 0.4T with the previous classification (BUSY a refusal): the leader steps down (refused) although its lease was valid (must fire; safety still holds)', async () => {
    const r = await scenario(
      { redisArgs: BUSY_ARGS, legacyTransient: true },
      busyServer,
      () => undefined,
    );
    expect(busyRenewals(r).length).toBeGreaterThan(0); // the fault was real
    const down = evs(r, 'stepped_down').find((e) => t(e) > busy.start);
    expect(down?.reason).toBe('refused');
    expect(terms(r).length).toBeGreaterThan(1);
  });

  it('Q19 BUSY for 0.4T (a long script, busy-reply-threshold 50 ms): renewals are retried until the deadline, no leadership change (gate for U8)', async () => {
    const r = await scenario({ redisArgs: BUSY_ARGS }, busyServer, () => undefined);
    expect(busyRenewals(r).length).toBeGreaterThan(0); // the fault was real
    const down = evs(r, 'stepped_down').filter((e) => t(e) > busy.start && e.reason !== 'stopped');
    expect(down).toEqual([]); // (every elector is stopped when the scenario ends)
    expect(terms(r)).toHaveLength(1);
    expect(evs(r, 'renew_reply').some((e) => t(e) > busy.end && e.result === 'ok')).toBe(true);
  });

  async function failover(s: Scenario): Promise<void> {
    const leader = await s.leader();
    seen.proc = leader.proc;
    await sleep(1000);
    s.replicationLink?.stall(); // renewals on the primary stop reaching the replica
    await sleep(600);
    leader.proxy.stall(); // the old leader learns nothing from now on
    await s.redis.kill();
    const promoted = s.replica?.client();
    await promoted?.replicaof('NO', 'ONE');
    const sentAt = process.hrtime.bigint();
    const pttl = (await promoted?.pttl(`{${s.namespace}:q}:lease`)) ?? -2;
    seen.replicaExpiry = pttl > 0 ? sentAt + BigInt(pttl) * 1_000_000n : sentAt;
    for (const w of s.workers) {
      if (w === leader) continue;
      w.proxy.retarget(s.replica?.port as number);
      w.proxy.reset();
    }
    // A competitor that needs no replica confirmation (the promoted replica has none).
    await s.spawn('fresh', undefined, { port: s.replica?.port as number, waitReplicas: 0 });
    await sleep(2500);
  }

  const oldLeaderEnd = (r: Result): bigint => {
    const mine = r.intervals.filter((i) => i.proc === seen.proc);
    return mine.reduce((m, i) => (i.e > m ? i.e : m), 0n);
  };

  it('U4 failover to a replica that missed renewals, without waitReplicas: at least one overlap', async () => {
    const r = await scenario({ replica: true }, failover, () => undefined, false);
    expect(r.overlaps.length).toBeGreaterThanOrEqual(1);
    expect(oldLeaderEnd(r)).toBeGreaterThan(seen.replicaExpiry); // it trusted renewals the replica never saw
  });

  it('U4m the same failover with waitReplicas 1: no overlap (gate)', async () => {
    const r = await scenario({ replica: true, waitReplicas: 1 }, failover, () => undefined);
    expect(r.overlaps).toEqual([]);
    expect(oldLeaderEnd(r)).toBeGreaterThan(0n);
    expect(oldLeaderEnd(r)).toBeLessThanOrEqual(seen.replicaExpiry); // belief ended before the replica's copy could expire
    expect(r.history.some((e) => e.ev === 'became_leader' && e.proc !== seen.proc)).toBe(true); // and someone else did lead
  });
});

/** Debian's libfaketime, multi-threaded variant (Node has threads); installed by scripts/ensure-deps.sh. */
function findLibfaketime(): string {
  for (const dir of readdirSync('/usr/lib')) {
    const candidate = join('/usr/lib', dir, 'faketime', 'libfaketimeMT.so.1');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    'libfaketimeMT.so.1 not found: apt-get install faketime, or set TENURE_LIBFAKETIME',
  );
}
