/**
 * A private PostgreSQL server for one test file: `initdb` into a temporary
 * directory, `postgres` on a free loopback port (never 5432, never a server
 * someone else runs), stopped and deleted afterwards. initdb refuses to run
 * as root, so under root both run as the `postgres` system user (Debian's
 * package creates it). Binaries from $TENURE_PG_BIN, or the newest
 * /usr/lib/postgresql/<version>/bin. Trust authentication for user `tenure`
 * on 127.0.0.1 only; fsync off (tests, not durability: a restart after
 * `stop({ fast })` keeps the data, a SIGKILL may not).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { reapOnExit } from './reaper.js';
import { serverReady } from './server-ready.js';
import { freePort } from './redis-server.js';

export const PG_BIN = process.env['TENURE_PG_BIN'] ?? findBin();

function findBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return versions[0] === undefined ? '' : join(root, versions[0], 'bin');
}

/** Under root, run as the `postgres` user; otherwise as ourselves. */
export function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export class PostgresServer {
  readonly host = '127.0.0.1';
  readonly user = 'tenure';
  readonly database = 'postgres';
  port = 0;
  readonly dir: string;
  readonly #as = runAs();
  #process: ChildProcess | undefined;
  readonly #pools = new Set<pg.Pool>();

  private constructor() {
    if (!PG_BIN)
      throw new Error(
        'PostgreSQL binaries not found: apt-get install postgresql, or set TENURE_PG_BIN to the folder holding initdb and postgres',
      );
    this.dir = mkdtempSync(join(tmpdir(), 'tenure-pg-'));
    if (this.#as) chownSync(this.dir, this.#as.uid, this.#as.gid);
    execFileSync(
      join(PG_BIN, 'initdb'),
      ['-D', this.dir, '-U', this.user, '--auth=trust', '--no-sync', '-E', 'UTF8', '--no-locale'],
      { stdio: 'pipe', ...this.#as },
    );
  }

  static async start(): Promise<PostgresServer> {
    const server = new PostgresServer();
    for (let attempt = 0; ; attempt++) {
      server.port = await freePort();
      try {
        await server.#spawn();
        return server;
      } catch (error) {
        if (attempt >= 4) {
          rmSync(server.dir, { recursive: true, force: true });
          throw error;
        }
      }
    }
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** A pool the harness ends on `stop()`. */
  pool(options: pg.PoolConfig = {}): pg.Pool {
    const pool = new pg.Pool({
      host: this.host,
      port: this.port,
      user: this.user,
      database: this.database,
      max: 4,
      ...options,
    });
    pool.on('error', () => undefined); // an idle client whose server went away
    this.#pools.add(pool);
    return pool;
  }

  /** SIGKILL and wait for the exit: the crash a fault test wants. */
  async kill(): Promise<void> {
    await this.#terminate('SIGKILL');
  }

  /** Starts again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.#terminate('SIGINT');
    await this.#spawn();
  }

  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.#process?.kill(signal);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#pools].map((p) => p.end().catch(() => undefined)));
    this.#pools.clear();
    await this.#terminate('SIGINT'); // fast shutdown: disconnects clients, then exits
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #terminate(signal: 'SIGINT' | 'SIGKILL'): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    if (signal === 'SIGKILL') {
      // The postmaster's children notice its death and exit; the next start waits for that.
      rmSync(join(this.dir, 'postmaster.pid'), { force: true });
    }
  }

  #spawn(): Promise<void> {
    const args = [
      '-D',
      this.dir,
      '-p',
      String(this.port),
      '-c',
      `listen_addresses=${this.host}`,
      '-c',
      `unix_socket_directories=${this.dir}`,
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ];
    const child = spawn(join(PG_BIN, 'postgres'), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...this.#as,
    });
    this.#process = child;
    reapOnExit(child);
    return serverReady(
      child,
      'database system is ready to accept connections',
      'postgres',
      20_000,
      (error) => `Cannot run postgres: ${error.message}`,
    ).catch((error: unknown) => {
      this.#process = undefined;
      throw error;
    });
  }
}
