/**
 * The PostgreSQL section of `npm run bench`: against one private PostgreSQL,
 * tenure's lock cycle side by side with a raw SQL baseline and the
 * `advisory-lock` npm package (session advisory locks), in interleaved
 * rounds; graceful hand-over with NOTIFY vs a waiter without notifications;
 * crash fail-over vs ttl; a follower's idle cost. Numbers, not verdicts.
 */
import { randomBytes } from 'node:crypto';
import advisoryLock from 'advisory-lock'; // CommonJS: its `default` export is the factory
import { Elector, Locker } from '../src/index.js';
import type { PgPoolLike } from '../src/lock/postgres/pg-types.js';
import { PostgresLeaseStore } from '../src/lock/postgres/postgres-store.js';
import { PostgresServer } from '../test/helpers/postgres-server.js';
import { crashFailover } from './failover.js';
import { type CycleImpl, tenureCycles, percentile, lockCycleTables } from './harness.js';

export interface PostgresBenchOptions {
  readonly rounds: number;
  readonly durationMs: number;
  readonly handovers: number;
  readonly idleMs: number;
  readonly kills: number;
  readonly out: (line?: string) => void;
}

const TTL = 10_000;

export async function postgresBench(o: PostgresBenchOptions): Promise<Record<string, unknown>> {
  const server = await PostgresServer.start();
  const results: Record<string, unknown> = {};
  try {
    const pool = server.pool({ max: 8 });
    const version =
      (await pool.query<{ server_version: string }>('SHOW server_version')).rows[0]
        ?.server_version ?? '?';
    await pool.query(
      'CREATE TABLE raw_locks (name text PRIMARY KEY, token text NOT NULL, expires_at timestamptz NOT NULL)',
    );
    const store = new PostgresLeaseStore({ pool, table: 'bench_leases' });
    await store.createTable();
    const url = `postgres://${server.user}@${server.host}:${server.port}/${server.database}`;
    const mutex = advisoryLock.default(url);
    const impls: CycleImpl[] = [
      {
        name: 'raw SQL (INSERT … ON CONFLICT DO NOTHING + DELETE … WHERE token)',
        async cycle(key) {
          const token = randomBytes(16).toString('base64url');
          const won = await pool.query(
            `INSERT INTO raw_locks VALUES ($1, $2, clock_timestamp() + interval '10 seconds') ON CONFLICT DO NOTHING RETURNING 1`,
            [key, token],
          );
          if (won.rowCount !== 1) return false;
          await pool.query('DELETE FROM raw_locks WHERE name = $1 AND token = $2', [key, token]);
          return true;
        },
      },
      ...tenureCycles(store, TTL, 'PostgresLeaseStore'),
      {
        name: 'advisory-lock 2.0.0 (tryLock + unlock: a connection per lock)',
        async cycle(key) {
          const unlock = await mutex(key).tryLock();
          if (!unlock) return false;
          await unlock();
          return true;
        },
      },
    ];
    o.out(
      `\n## PostgreSQL\n\nPostgreSQL ${version} on 127.0.0.1 (private server, fsync off), pg 8.23.1, pool of 8; ${o.rounds} interleaved rounds of ${o.durationMs} ms each.`,
    );
    Object.assign(
      results,
      await lockCycleTables(impls, {
        label: 'PG',
        baseline: 'raw SQL',
        where: 'one pool of 8',
        rounds: o.rounds,
        durationMs: o.durationMs,
        out: o.out,
      }),
    );

    // 3. Graceful hand-over: A releases, B (already waiting in lock()) gets it.
    const handover = async (listen: boolean, count: number): Promise<number[]> => {
      const poolA = server.pool({ max: 2 });
      const poolB = server.pool({ max: 2 });
      const a = new Locker(new PostgresLeaseStore({ pool: poolA, table: 'bench_leases' }));
      const storeB = new PostgresLeaseStore({
        pool: poolB,
        table: 'bench_leases',
        ...(listen ? {} : { listen: false }),
      });
      const b = new Locker(storeB);
      const samples: number[] = [];
      for (let i = 0; i < count; i++) {
        const name = `handover-${listen}-${i}`;
        const held = await a.lock(name, { ttlMs: 2000 });
        const waiting = b.lock(name, { ttlMs: 2000, retryMs: 250, retryLimit: 100 });
        await new Promise((r) => setTimeout(r, 20)); // B was refused and waits
        const releasedAt = performance.now();
        await held.release();
        const next = await waiting;
        samples.push(performance.now() - releasedAt);
        await next.release();
      }
      await storeB.close();
      await poolA.end();
      await poolB.end();
      return samples;
    };
    const notified = await handover(true, o.handovers);
    // Each takes about a ttl: a few samples show the order of magnitude.
    const unnotified = await handover(false, Math.min(o.handovers, 10));
    o.out(
      `\n### PG 3. Graceful hand-over (ttl 2000 ms, retryMs 250; ${notified.length} and ${unnotified.length} samples)\n`,
    );
    o.out('| waiter | p50 ms | p99 ms | max ms |');
    o.out('| --- | ---: | ---: | ---: |');
    for (const [name, s] of [
      ['tenure, woken by NOTIFY', notified],
      ['tenure with listen: false (retries at retryMs / expiry)', unnotified],
    ] as const) {
      o.out(
        `| ${name} | ${percentile(s, 50).toFixed(2)} | ${percentile(s, 99).toFixed(2)} | ${Math.max(...s).toFixed(2)} |`,
      );
    }
    results['PG 3. hand-over'] = {
      notify: { p50: percentile(notified, 50), p99: percentile(notified, 99) },
      noListen: { p50: percentile(unnotified, 50), p99: percentile(unnotified, 99) },
    };

    // 4. Crash fail-over: three electors in their own processes, the leader SIGKILLed.
    await new PostgresLeaseStore({ pool, table: 'bench_crash', listen: false }).createTable();
    const crash = await crashFailover({
      port: server.port,
      kills: o.kills,
      ttlMs: 1000,
      renewMs: 250,
      postgresTable: 'bench_crash',
    });
    o.out(`\n### PG 4. Crash fail-over (SIGKILL of the leader, ttlMs 1000, ${o.kills} kills)\n`);
    o.out(
      `| p50 ms | p99 ms | max ms |\n| ---: | ---: | ---: |\n| ${percentile(crash.tenure, 50).toFixed(0)} | ${percentile(crash.tenure, 99).toFixed(0)} | ${Math.max(...crash.tenure).toFixed(0)} |`,
    );
    results['PG 4. crash fail-over'] = crash.tenure;

    // 5. Idle follower: statements a follower sends while someone else leads.
    let statements = 0;
    const followerPool = server.pool({ max: 2 });
    const counted: PgPoolLike = {
      ...(followerPool.options ? { options: followerPool.options } : {}),
      ...((followerPool as PgPoolLike).Client
        ? { Client: (followerPool as PgPoolLike).Client }
        : {}),
      connect: async () => {
        const client = await followerPool.connect();
        return new Proxy(client, {
          get(target, property, receiver) {
            if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
            return (...args: Parameters<typeof target.query>) => {
              statements++;
              return target.query(...args);
            };
          },
        });
      },
    };
    const leaderStore = new PostgresLeaseStore({ pool, table: 'bench_leases' });
    const followerStore = new PostgresLeaseStore({
      pool: counted,
      table: 'bench_leases',
    });
    const timing = { ttlMs: 1000, renewMs: 250 };
    const leader = new Elector({ store: leaderStore, election: 'idle', ...timing });
    await leader.start();
    await leader.waitForLeadership();
    const follower = new Elector({ store: followerStore, election: 'idle', ...timing });
    await follower.start();
    await new Promise((r) => setTimeout(r, 500));
    statements = 0;
    await new Promise((r) => setTimeout(r, o.idleMs));
    const perPeriod = statements / (o.idleMs / timing.ttlMs);
    await follower.stop();
    await leader.stop();
    await followerStore.close();
    await leaderStore.close();
    o.out(`\n### PG 5. Idle follower (ttlMs 1000, ${o.idleMs / 1000} s)\n`);
    o.out(`| statements per lease period per follower |\n| ---: |\n| ${perPeriod.toFixed(2)} |`);
    results['PG 5. idle statements per lease period'] = perPeriod;
    await store.close();
  } finally {
    await server.stop();
  }
  return results;
}
