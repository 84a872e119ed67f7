/**
 * A private redis-server for one test file: started on a free loopback port
 * (never 6379, never a server someone else runs), stopped afterwards.
 * Binary from PATH, or from $TENURE_REDIS_SERVER.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { reapOnExit } from './reaper.js';
import { serverReady } from './server-ready.js';

export const REDIS_BIN = process.env['TENURE_REDIS_SERVER'] ?? 'redis-server';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  readonly host = '127.0.0.1';
  port = 0;
  readonly #extraArgs: string[];
  readonly #dir = mkdtempSync(join(tmpdir(), 'tenure-redis-'));
  #process: ChildProcess | undefined;
  readonly #clients = new Set<Redis>();

  private constructor(extraArgs: string[]) {
    this.#extraArgs = extraArgs;
  }

  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(extraArgs);
    for (let attempt = 0; ; attempt++) {
      server.port = await freePort();
      try {
        await server.#spawn();
        return server;
      } catch (error) {
        if (attempt >= 4) throw error;
      }
    }
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** A client that the harness quits on `stop()`. Fast, fixed reconnects so tests are deterministic. */
  client(options: RedisOptions = {}): Redis {
    const client = new Redis({
      host: this.host,
      port: this.port,
      retryStrategy: () => 50,
      maxRetriesPerRequest: 1,
      ...options,
    } as RedisOptions as never); // ioredis' overloads and exactOptionalPropertyTypes disagree on `replyMapping`
    client.on('error', () => undefined);
    this.#clients.add(client);
    return client;
  }

  /**
   * Starts a replica of this server, replicating through `port` (this
   * server's, or a proxy's in front of it), and resolves once it counts for
   * WAIT here (see `waitForReplicas`). Stop it with its own `stop()`.
   */
  async startReplica(port = this.port): Promise<RedisServer> {
    const replica = await RedisServer.start(['--replicaof', this.host, String(port)]);
    try {
      await waitForReplicas(this.client());
    } catch (error) {
      await replica.stop();
      throw error;
    }
    return replica;
  }

  /** SIGKILL and wait for exit; the port stays reserved for `restart()` by convention. */
  async kill(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts again on the same port (data lost unless persistence was configured). */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.#process?.kill(signal);
  }

  async stop(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      this.host,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.#dir,
      '--enable-debug-command',
      'local',
      '--repl-diskless-sync-delay',
      '0',
      ...this.#extraArgs,
    ];
    const child = spawn(REDIS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    reapOnExit(child);
    return serverReady(
      child,
      'Ready to accept connections',
      'redis-server',
      10_000,
      (error) =>
        `Cannot run ${REDIS_BIN} (install redis-server or set TENURE_REDIS_SERVER): ${error.message}`,
    ).catch((error: unknown) => {
      this.#process = undefined;
      throw error;
    });
  }
}

/**
 * Resolves once `count` replicas acknowledged a write made on `primary` after
 * they were online there, within `timeoutMs`: their acknowledged offset (INFO
 * replication on the primary) reaches the primary's offset after that write.
 * Neither a replica's `master_link_status:up` nor a WAIT answer is enough on
 * Redis 7.0: after a diskless sync the primary may list a replica online but
 * stream commands to it only after its next REPLCONF ACK (up to a second
 * later, when its first ACK raced the end of the sync), and WAIT after a
 * client's first write compares with the offset before that write, so it
 * counts such a replica. WAIT is still sent: streaming replicas then
 * acknowledge at once instead of on their next once-a-second ACK.
 */
export async function waitForReplicas(
  primary: Redis,
  count = 1,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const online = replicationOffsets(await primary.info('replication')).replicas.length;
    if (online >= count) {
      // Written after they were online: it can reach them only through the command stream.
      await primary.incr('tenure-test:replication-probe');
      const target = replicationOffsets(await primary.info('replication')).primary;
      await primary.wait(count, 50);
      const { replicas } = replicationOffsets(await primary.info('replication'));
      if (replicas.filter((offset) => offset >= target).length >= count) return;
    }
    if (Date.now() > until)
      throw new Error(`${count} replica(s) did not acknowledge a write within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The primary's replication offset and the acknowledged offset of each online replica. */
function replicationOffsets(info: string): { primary: number; replicas: number[] } {
  const primary = Number(/^master_repl_offset:(\d+)/m.exec(info)?.[1] ?? NaN);
  const replicas = [...info.matchAll(/^slave\d+:.*\bstate=online,offset=(\d+)/gm)].map((m) =>
    Number(m[1]),
  );
  return { primary, replicas };
}

/** A key prefix (namespace) unique to one test. */
let counter = 0;
export function uniqueNamespace(label = 't'): string {
  return `${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Writes 16 KiB keys with a TTL (`filler:*`), 64 per round trip, until
 * `until()` holds (`'done'`) or the server answers `OOM` (`'oom'`); throws
 * after 200 rounds. For a server with a `maxmemory` limit.
 */
export async function fillMemory(
  admin: Redis,
  until: () => Promise<boolean>,
): Promise<'done' | 'oom'> {
  const value = 'x'.repeat(16 * 1024);
  for (let batch = 0; batch < 200; batch++) {
    const pipeline = admin.pipeline();
    for (let i = 0; i < 64; i++) pipeline.set(`filler:${batch}:${i}`, value, 'PX', 600_000);
    const results = (await pipeline.exec()) ?? [];
    if (results.some(([error]) => error?.message.startsWith('OOM'))) return 'oom';
    if (await until()) return 'done';
  }
  throw new Error('filled 200 batches without the expected outcome');
}
