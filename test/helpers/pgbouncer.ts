/**
 * A private PgBouncer in front of a test's PostgresServer, in transaction
 * pooling mode (the mode that breaks session state: a client's statements
 * may run on different server connections). Free loopback port, config and
 * log in a temporary directory; under root it runs as the `postgres` user
 * (PgBouncer refuses to run as root). Stopped and deleted by `stop()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type PostgresServer, runAs } from './postgres-server.js';
import { reapOnExit } from './reaper.js';
import { freePort } from './redis-server.js';
import { serverReady } from './server-ready.js';

export const PGBOUNCER_BIN = process.env['TENURE_PGBOUNCER'] ?? '/usr/sbin/pgbouncer';

export class PgBouncer {
  readonly host = '127.0.0.1';
  port = 0;
  readonly #dir: string;
  readonly #as = runAs();
  readonly #pools = new Set<pg.Pool>();
  readonly #server: PostgresServer;
  #process: ChildProcess | undefined;

  private constructor(server: PostgresServer) {
    this.#server = server;
    this.#dir = mkdtempSync(join(tmpdir(), 'tenure-pgbouncer-'));
    if (this.#as) chownSync(this.#dir, this.#as.uid, this.#as.gid);
  }

  static async start(server: PostgresServer, poolSize = 4): Promise<PgBouncer> {
    const bouncer = new PgBouncer(server);
    for (let attempt = 0; ; attempt++) {
      bouncer.port = await freePort();
      try {
        await bouncer.#spawn(poolSize);
        return bouncer;
      } catch (error) {
        if (attempt >= 4) {
          rmSync(bouncer.#dir, { recursive: true, force: true });
          throw error;
        }
      }
    }
  }

  /** A pool of clients through PgBouncer, ended on `stop()`. */
  pool(options: pg.PoolConfig = {}): pg.Pool {
    const pool = new pg.Pool({
      host: this.host,
      port: this.port,
      user: this.#server.user,
      database: this.#server.database,
      max: 8,
      ...options,
    });
    pool.on('error', () => undefined);
    this.#pools.add(pool);
    return pool;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#pools].map((p) => p.end().catch(() => undefined)));
    this.#pools.clear();
    const child = this.#process;
    this.#process = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #spawn(poolSize: number): Promise<void> {
    const ini = join(this.#dir, 'pgbouncer.ini');
    const users = join(this.#dir, 'users.txt');
    writeFileSync(users, `"${this.#server.user}" ""\n`);
    writeFileSync(
      ini,
      [
        '[databases]',
        `${this.#server.database} = host=${this.#server.host} port=${this.#server.port} dbname=${this.#server.database}`,
        '[pgbouncer]',
        `listen_addr = ${this.host}`,
        `listen_port = ${this.port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${users}`,
        'pool_mode = transaction',
        `default_pool_size = ${poolSize}`,
        'max_client_conn = 200',
        'server_reset_query =',
        // After a failed login (the server restarting) PgBouncer waits this long before it
        // tries again: 15 s by default, which keeps every client waiting that long.
        'server_login_retry = 1',
        'ignore_startup_parameters = extra_float_digits,options',
        `pidfile = ${join(this.#dir, 'pgbouncer.pid')}`,
        '',
      ].join('\n'),
    );
    if (this.#as) {
      chownSync(ini, this.#as.uid, this.#as.gid);
      chownSync(users, this.#as.uid, this.#as.gid);
    }
    const child = spawn(PGBOUNCER_BIN, [ini], { stdio: ['ignore', 'pipe', 'pipe'], ...this.#as });
    this.#process = child;
    reapOnExit(child);
    return serverReady(
      child,
      'process up',
      'pgbouncer',
      20_000,
      (error) => `Cannot run pgbouncer (apt-get install pgbouncer): ${error.message}`,
    ).catch((error: unknown) => {
      this.#process = undefined;
      throw error;
    });
  }
}
