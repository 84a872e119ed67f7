/**
 * PostgreSQL-specific behaviour of PostgresLeaseStore against a private
 * server: schema creation and checks, SQLSTATE mapping on real refusals,
 * statement cancel on timeout, the LISTEN connection's reconnect, pglock's
 * keep-on-release, diagnose(). The LeaseStore contract itself runs in
 * test/conformance/postgres.test.ts.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  PermissionError,
  ReadOnlyReplicaError,
  SchemaMissingError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '../../src/errors.js';
import { Locker } from '../../src/lock/locker.js';
import type { LeaseEvent } from '../../src/lock/lease-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';
import { PostgresServer } from '../helpers/postgres-server.js';

let server: PostgresServer;
let admin: pg.Pool;
let tables = 0;
const stores: PostgresLeaseStore[] = [];

beforeAll(async () => {
  server = await PostgresServer.start();
  admin = server.pool({ max: 2 });
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server.stop();
});

function store(options: Partial<ConstructorParameters<typeof PostgresLeaseStore>[0]> = {}) {
  const s = new PostgresLeaseStore({ pool: admin, table: `t${tables}`, ...options });
  stores.push(s);
  return s;
}

/** The unquoted table name of a store in the public schema. */
const bare = (s: PostgresLeaseStore): string => s.table.split('"')[3] as string;

function request(name: string, identity = 'me', ttlMs = 5000, data = '') {
  return { name, token: OwnershipToken.generate(), ttlMs, identity, data };
}

describe('PostgresLeaseStore schema', () => {
  it('creates the table once when 10 stores call createTable() at the same moment', async () => {
    const table = `fleet_${tables++}`;
    const pools = Array.from({ length: 10 }, () => server.pool({ max: 1 }));
    const fleet = pools.map((pool) => new PostgresLeaseStore({ pool, table, listen: false }));
    await Promise.all(fleet.map((s) => s.createTable()));
    await fleet[0]!.createTable(); // idempotent
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class WHERE relname IN ($1, $2)`,
      [table, `${table}_watchers`],
    );
    expect(rows[0]?.n).toBe(2);
    expect((await fleet[3]!.acquire(request('x'))).acquired).toBe(true);
    await Promise.all(pools.map((p) => p.end()));
  });

  it('creates a schema of its own and quotes names', async () => {
    const s = store({ schema: 'Tenure_Schema', table: `Mixed_${tables++}`, listen: false });
    await s.createTable();
    expect(s.table).toMatch(/^"Tenure_Schema"\."Mixed_\d+"$/);
    expect((await s.acquire(request('x'))).acquired).toBe(true);
  });

  it('says which call creates a missing table', async () => {
    const s = store({ table: `missing_${tables++}`, listen: false });
    const error = await s.acquire(request('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaMissingError);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/does not exist: call `await store\.createTable\(\)`/);
  });

  it('refuses a table of another schema version, in operations and in createTable()', async () => {
    const s = store({ table: `old_${tables++}`, listen: false });
    await s.createTable();
    await admin.query(`COMMENT ON TABLE ${s.table} IS 'tenure lease table, schema version 0'`);
    const other = store({ table: bare(s), listen: false });
    await expect(other.read('x')).rejects.toThrow(/not tenure's schema version 1/);
    await expect(other.createTable()).rejects.toBeInstanceOf(ConfigurationError);
  });
});

describe('PostgresLeaseStore errors from a real server', () => {
  it('maps missing privileges (42501) to PermissionError, not applied', async () => {
    const s = store({ table: `priv_${tables++}`, listen: false });
    await s.createTable();
    await admin.query(`DROP ROLE IF EXISTS nobody_here; CREATE ROLE nobody_here LOGIN`);
    const pool = server.pool({ user: 'nobody_here', max: 1 });
    const intruder = new PostgresLeaseStore({ pool, table: bare(s), listen: false });
    const error = await intruder.acquire(request('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermissionError);
    expect(error).toMatchObject({ code: 'TENURE_PERMISSION' });
    await pool.end();
  });

  it('maps a read-only transaction (25006, as on a hot standby) to ReadOnlyReplicaError: definite, not retryable', async () => {
    const s = store({ table: `ro_${tables++}`, listen: false });
    await s.createTable();
    const pool = server.pool({ max: 1, options: '-c default_transaction_read_only=on' });
    const readOnly = new PostgresLeaseStore({ pool, table: bare(s), listen: false });
    const error = await readOnly.acquire(request('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadOnlyReplicaError);
    expect(error).toMatchObject({ ambiguous: false, retryable: false });
    // Reads still work on a read-only connection.
    expect(await readOnly.read('x')).toBeNull();
    await pool.end();
  });

  it('cancels a statement that outlives queryTimeoutMs, and it leaves no lease behind', async () => {
    const table = `slow_${tables++}`;
    const setup = store({ table, listen: false });
    await setup.createTable();
    // An expired lease, so the next acquire must lock the row; another session holds that lock.
    await setup.acquire(request('x', 'old', 50));
    await new Promise((r) => setTimeout(r, 100));
    const blocker = await admin.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT * FROM ${setup.table} WHERE name = 'x' FOR UPDATE`);
    const pool = server.pool({ max: 1 });
    const s = new PostgresLeaseStore({ pool, table, listen: false, queryTimeoutMs: 200 });
    const started = performance.now();
    const error = await s.acquire(request('x', 'late')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreTimeoutError);
    expect(error).toMatchObject({ ambiguous: true });
    expect(performance.now() - started).toBeLessThan(1000);
    // The cancel reached the server: nothing waits on the row lock any more.
    await expect
      .poll(
        async () =>
          (
            await blocker.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
            )
          ).rows[0]?.n,
        { timeout: 3000, interval: 20 },
      )
      .toBe(0);
    await blocker.query('COMMIT');
    blocker.release();
    expect(await setup.read('x')).toBeNull(); // the cancelled acquire did not apply
    // The pool's only client is usable again.
    expect((await s.acquire(request('x', 'next'))).acquired).toBe(true);
    await pool.end();
  });
});

describe('PostgresLeaseStore notifications', () => {
  it('re-subscribes after its LISTEN connection is terminated, re-reads the name, and keeps delivering', async () => {
    const table = `listen_${tables++}`;
    const watcherPool = server.pool({ max: 2 });
    const watcher = new PostgresLeaseStore({ pool: watcherPool, table });
    stores.push(watcher);
    await watcher.createTable();
    const actor = store({ table });
    const events: LeaseEvent[] = [];
    const unsubscribe = await watcher.subscribe('job', (e) => events.push(e));
    const pid = async (): Promise<number[]> =>
      (await admin.query(`SELECT pid FROM ${watcher.table.slice(0, -1)}_watchers"`)).rows.map(
        (r: { pid: number }) => r.pid,
      );
    const [before] = await pid();
    expect(before).toBeTypeOf('number');
    const a = request('job', 'alpha');
    const granted = await actor.acquire(a);
    await expect.poll(() => events, { timeout: 2000 }).toEqual(['acquired']);
    await admin.query('SELECT pg_terminate_backend($1)', [before]);
    // Released while the watcher is disconnected: the NOTIFY is lost, the re-read after reconnect tells.
    if (!granted.acquired) throw new Error('not acquired');
    await actor.release({ name: 'job', token: a.token, term: granted.term });
    await expect.poll(() => events, { timeout: 5000 }).toEqual(['acquired', 'released']);
    await expect.poll(async () => (await pid()).filter((p) => p !== before).length).toBe(1);
    await new Promise((r) => setTimeout(r, 80)); // past any hand-off reservation
    expect((await actor.acquire(request('job', 'beta'))).acquired).toBe(true);
    await expect
      .poll(() => events, { timeout: 2000 })
      .toEqual(['acquired', 'released', 'acquired']);
    unsubscribe();
    await watcher.close();
    await watcherPool.end();
  });

  it('without LISTEN (listen: false) waiters still get the lock at the holder expiry, and diagnose() says so', async () => {
    const s = store({ table: `quiet_${tables++}`, listen: false });
    await s.createTable();
    expect((await s.diagnose()).join('\n')).toMatch(/notifications are off/);
    const locker = new Locker(s);
    const held = await locker.lock('job', { ttlMs: 400 });
    const started = performance.now();
    const waiting = locker.lock('job', { ttlMs: 1000, retryLimit: 50 });
    await held.release(); // nobody is notified
    const next = await waiting;
    expect(performance.now() - started).toBeLessThan(2000);
    expect(next.term).toBeGreaterThan(held.term);
    await next.release();
  });

  it('with LISTEN a waiter gets a released lock within milliseconds, well before the expiry', async () => {
    const s = store({ table: `fast_${tables++}` });
    await s.createTable();
    const locker = new Locker(s);
    const held = await locker.lock('job', { ttlMs: 5000 });
    const waiting = locker.lock('job', { ttlMs: 5000, retryLimit: 50 });
    await new Promise((r) => setTimeout(r, 100)); // the waiter is refused and subscribed
    const releasedAt = performance.now();
    await held.release();
    const next = await waiting;
    expect(performance.now() - releasedAt).toBeLessThan(1000);
    await next.release();
  });
});

describe('PostgresLeaseStore records (pglock parity)', () => {
  it('inspect() reads a lease without acquiring it, and keeps data after release with keepDataOnRelease', async () => {
    const table = `keep_${tables++}`;
    const keep = store({ table, keepDataOnRelease: true, listen: false });
    await keep.createTable();
    const drop = store({ table, listen: false });
    expect(await keep.inspect('job')).toBeNull();
    const a = request('job', 'alpha', 5000, '{"v":1}');
    const g = await keep.acquire(a);
    if (!g.acquired) throw new Error('not acquired');
    expect(await drop.inspect('job')).toMatchObject({
      held: true,
      identity: 'alpha',
      term: g.term,
      data: '{"v":1}',
    });
    await keep.release({ name: 'job', token: a.token, term: g.term });
    expect(await keep.inspect('job')).toMatchObject({
      held: false,
      identity: 'alpha',
      term: g.term,
      data: '{"v":1}',
      remainingMs: 0,
    });
    const b = request('job', 'beta', 5000, '{"v":2}');
    const g2 = await drop.acquire(b);
    if (!g2.acquired) throw new Error('not acquired');
    await drop.release({ name: 'job', token: b.token, term: g2.term });
    expect(await drop.inspect('job')).toMatchObject({ held: false, data: '', term: g2.term });
  });
});

describe('PostgresLeaseStore under faults found in review', () => {
  it('hands back a grant that timed out and then applied when a stalled server resumed', async () => {
    const table = `stall_${tables++}`;
    await store({ table, listen: false }).createTable();
    const pool = server.pool({ max: 1 });
    const s = new PostgresLeaseStore({ pool, table, listen: false, queryTimeoutMs: 300 });
    expect(await s.read('x')).toBeNull(); // a warm pooled connection
    server.signal('SIGSTOP');
    let error: unknown;
    try {
      error = await s.acquire(request('x', 'ghost', 20_000)).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      server.signal('SIGCONT');
    }
    expect(error).toBeInstanceOf(StoreTimeoutError);
    // Whether the statement ran on resume or was cancelled, nobody holds the name for 20 s.
    await expect
      .poll(() => s.inspect('x').then((r) => r?.held ?? false), { timeout: 5000 })
      .toBe(false);
    // The timed-out connection was discarded: the cancel sent for it (which may reach the
    // server only now) hits no later statement.
    for (let i = 0; i < 5; i++) expect(await s.read('y')).toBeNull();
    expect((await s.acquire(request('x', 'next'))).acquired).toBe(true);
    await pool.end();
  });

  it('wakes a waiter that subscribed while a release was waiting for the row (NOTIFY at commit, whatever the snapshot saw)', async () => {
    const table = `race_${tables++}`;
    const a = store({ table });
    await a.createTable();
    const watcherPool = server.pool({ max: 2 });
    const b = new PostgresLeaseStore({ pool: watcherPool, table });
    stores.push(b);
    const lease = request('job', 'alpha', 20_000);
    const g = await a.acquire(lease);
    if (!g.acquired) throw new Error('not acquired');
    const blocker = await admin.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT * FROM ${a.table} WHERE name = 'job' FOR UPDATE`);
    const releasing = a.release({ name: 'job', token: lease.token, term: g.term });
    await new Promise((r) => setTimeout(r, 100)); // the release took its snapshot and waits
    const events: LeaseEvent[] = [];
    const unsubscribe = await b.subscribe('job', (e) => events.push(e));
    await blocker.query('COMMIT');
    blocker.release();
    expect(await releasing).toBe(true);
    await expect.poll(() => events, { timeout: 2000 }).toContain('released');
    unsubscribe();
    await b.close();
    await watcherPool.end();
  });

  it('reports a request that never left the pool (exhausted) as not applied', async () => {
    const table = `busy_${tables++}`;
    await store({ table, listen: false }).createTable();
    const pool = server.pool({ max: 1 });
    const s = new PostgresLeaseStore({ pool, table, listen: false, queryTimeoutMs: 200 });
    const held = await pool.connect();
    const error = await s.acquire(request('x')).catch((e: unknown) => e);
    held.release();
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toMatchObject({ ambiguous: false, retryable: true });
    expect(await s.read('x')).toBeNull();
    await pool.end();
  });

  it('createTable() on an existing table takes no lock (a fleet starting during VACUUM is not held up)', async () => {
    const table = `vacuum_${tables++}`;
    const s = store({ table, listen: false, queryTimeoutMs: 300 });
    await s.createTable();
    const blocker = await admin.connect();
    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE ${s.table} IN SHARE UPDATE EXCLUSIVE MODE`);
    const started = performance.now();
    await store({ table, listen: false, queryTimeoutMs: 300 }).createTable();
    expect(performance.now() - started).toBeLessThan(1000);
    await blocker.query('COMMIT');
    blocker.release();
  });

  it('ignores a watcher row whose pid now belongs to another backend (no reservation, no inflated count)', async () => {
    const table = `stale_${tables++}`;
    const s = store({ table, listen: false });
    await s.createTable();
    const other = await admin.connect(); // a live backend that does not listen
    const { rows } = await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const channelOf = async (name: string): Promise<string> => {
      // The store's channel for `name`: subscribe once with a listening store and read its row.
      const listening = store({ table });
      const unsubscribe = await listening.subscribe(name, () => undefined);
      const found = await admin.query<{ channel: string }>(
        `SELECT channel FROM ${s.table.slice(0, -1)}_watchers"`,
      );
      unsubscribe();
      await listening.close();
      await admin.query(`DELETE FROM ${s.table.slice(0, -1)}_watchers"`);
      return found.rows[0]?.channel ?? '';
    };
    const channel = await channelOf('job');
    await admin.query(
      `INSERT INTO ${s.table.slice(0, -1)}_watchers" (channel, pid, started) VALUES ($1, $2, '2000-01-01')`,
      [channel, rows[0]?.pid],
    );
    for (let i = 0; i < 3; i++) {
      const lease = request('job', 'alpha');
      const g = await s.acquire(lease);
      if (!g.acquired) throw new Error(`round ${i}: not acquired: ${JSON.stringify(g)}`);
      await s.release({ name: 'job', token: lease.token, term: g.term });
    }
    other.release();
  });

  it('an unsubscribe made while the LISTEN connection re-subscribes after a reconnect is not undone by it', async () => {
    const table = `resub_${tables++}`;
    const watcherPool = server.pool({ max: 2 });
    const watcher = new PostgresLeaseStore({ pool: watcherPool, table });
    await watcher.createTable();
    const names = Array.from({ length: 60 }, (_, i) => `n${i}`);
    const unsubscribes = await Promise.all(names.map((n) => watcher.subscribe(n, () => undefined)));
    const watchers = `${watcher.table.slice(0, -1)}_watchers"`;
    const pids = async (): Promise<number[]> =>
      (await admin.query<{ pid: number }>(`SELECT pid FROM ${watchers}`)).rows.map((r) => r.pid);
    const [before] = await pids();
    await admin.query('SELECT pg_terminate_backend($1)', [before]);
    // As soon as the new connection registers its first row, drop the last 15 names.
    await expect
      .poll(async () => (await pids()).some((p) => p !== before), { timeout: 5000, interval: 2 })
      .toBe(true);
    for (const u of unsubscribes.slice(-15)) u();
    await expect
      .poll(async () => (await pids()).filter((p) => p !== before).length, { timeout: 5000 })
      .toBe(45);
    await new Promise((r) => setTimeout(r, 300));
    expect((await pids()).filter((p) => p !== before)).toHaveLength(45);
    for (const u of unsubscribes.slice(0, -15)) u();
    await watcher.close();
    await watcherPool.end();
  });
});
