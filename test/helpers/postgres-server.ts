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
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
  readonly #args: string[];

  private constructor(args: string[], standbyOf?: { port: number }) {
    this.#args = args;
    if (!PG_BIN)
      throw new Error(
        'PostgreSQL binaries not found: apt-get install postgresql, or set TENURE_PG_BIN to the folder holding initdb and postgres',
      );
    this.dir = mkdtempSync(join(tmpdir(), 'tenure-pg-'));
    if (this.#as) chownSync(this.dir, this.#as.uid, this.#as.gid);
    if (standbyOf) return; // filled by pg_basebackup in startStandby()
    execFileSync(
      join(PG_BIN, 'initdb'),
      ['-D', this.dir, '-U', this.user, '--auth=trust', '--no-sync', '-E', 'UTF8', '--no-locale'],
      { stdio: 'pipe', ...this.#as },
    );
  }

  /** `args`: extra `postgres` arguments, e.g. `['-c', 'synchronous_commit=remote_apply']`. */
  static async start(args: string[] = []): Promise<PostgresServer> {
    return PostgresServer.#launch(new PostgresServer(args));
  }

  /** A streaming standby of the server reachable at `primaryPort` (the primary itself or a proxy to it). */
  static async startStandby(primaryPort: number, args: string[] = []): Promise<PostgresServer> {
    const server = new PostgresServer(args, { port: primaryPort });
    // A base backup of the primary with standby.signal and primary_conninfo (-R). Asynchronous:
    // the primary may be reached through a FaultProxy running in this very process.
    await promisify(execFile)(
      join(PG_BIN, 'pg_basebackup'),
      [
        '-h',
        server.host,
        '-p',
        String(primaryPort),
        '-U',
        server.user,
        '-D',
        server.dir,
        '-R',
        '-X',
        'stream',
        '--no-sync',
      ],
      { timeout: 60_000, ...server.#as },
    );
    return PostgresServer.#launch(server);
  }

  static async #launch(server: PostgresServer): Promise<PostgresServer> {
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

  /** Sends `signal` to the postmaster and every backend (SIGSTOP freezes the whole server). */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.#process?.pid;
    if (pid === undefined) return;
    const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
    for (const child of signal === 'SIGSTOP' ? [pid, ...children] : [...children, pid]) {
      try {
        process.kill(child, signal);
      } catch {
        // exited meanwhile
      }
    }
  }

  /** Immediate shutdown (SIGQUIT: no checkpoint, crash recovery on start), then start again. */
  async restartImmediate(): Promise<void> {
    await this.#terminate('SIGQUIT');
    await this.#spawn();
  }

  /** Promotes a standby to a primary and waits until it accepts writes. */
  async promote(): Promise<void> {
    const client = new pg.Client({
      host: this.host,
      port: this.port,
      user: this.user,
      database: this.database,
    });
    await client.connect();
    try {
      await client.query('SELECT pg_promote(true, 30)');
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#pools].map((p) => p.end().catch(() => undefined)));
    this.#pools.clear();
    await this.#terminate('SIGINT'); // fast shutdown: disconnects clients, then exits
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #terminate(signal: 'SIGINT' | 'SIGQUIT' | 'SIGKILL'): Promise<void> {
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
      ...this.#args,
    ];
    const child = spawn(join(PG_BIN, 'postgres'), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...this.#as,
    });
    this.#process = child;
    reapOnExit(child);
    return serverReady(
      child,
      'ready to accept', // "connections" on a primary, "read-only connections" on a standby
      'postgres',
      20_000,
      (error) => `Cannot run postgres: ${error.message}`,
    ).catch((error: unknown) => {
      this.#process = undefined;
      throw error;
    });
  }
}
