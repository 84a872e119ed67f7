/**
 * The private PostgreSQL harness the PostgreSQL lease store's tests will run
 * on (issue 11): its own data directory and loopback port, reachable with
 * node-postgres, data kept across a restart, back after a SIGKILL, and
 * nothing left behind after stop().
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresServer } from '../helpers/postgres-server.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await PostgresServer.start();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('private PostgreSQL server', () => {
  it('listens on its own loopback port and answers node-postgres', async () => {
    expect(server.port).not.toBe(5432);
    const pool = server.pool();
    const { rows } = await pool.query<{ a: string; b: string; addr: string | null }>(
      'SELECT clock_timestamp() AS a, clock_timestamp() AS b, inet_server_addr()::text AS addr',
    );
    expect(rows[0]?.addr).toBe('127.0.0.1/32');
    // clock_timestamp() moves within one statement (now() would not): the store relies on it.
    expect(new Date(rows[0]?.b ?? 0).getTime()).toBeGreaterThanOrEqual(
      new Date(rows[0]?.a ?? 0).getTime(),
    );
  });

  it('keeps its data across a restart and comes back after a SIGKILL', async () => {
    const pool = server.pool();
    await pool.query('CREATE TABLE IF NOT EXISTS kept (v int)');
    await pool.query('INSERT INTO kept VALUES (1)');
    await server.restart();
    expect((await pool.query('SELECT count(*)::int AS n FROM kept')).rows[0]).toEqual({ n: 1 });
    const before = server.pid;
    await server.kill();
    expect(alive(before)).toBe(false);
    await server.restart();
    expect((await pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
  }, 60_000);

  it('leaves no process and no data directory after stop()', async () => {
    const other = await PostgresServer.start();
    const { pid, dir } = other;
    await other.pool().query('SELECT 1');
    await other.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
