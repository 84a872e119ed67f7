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
    // Never outlive the process that started it (a crashed run, or a script ending with process.exit).
    const reap = (): void => void child.kill('SIGKILL');
    process.on('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    return new Promise((resolve, reject) => {
      let output = '';
      const timer = setTimeout(
        () => fail(new Error(`redis-server did not start within 10 s:\n${output}`)),
        10_000,
      );
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        this.#process = undefined;
        reject(error);
      };
      child.once('error', (error) =>
        fail(
          new Error(
            `Cannot run ${REDIS_BIN} (install redis-server or set TENURE_REDIS_SERVER): ${error.message}`,
          ),
        ),
      );
      child.once('exit', (code) => fail(new Error(`redis-server exited with ${code}:\n${output}`)));
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.stdout?.removeAllListeners('data');
          child.stdout?.resume();
          resolve();
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    });
  }
}

/** A key prefix (namespace) unique to one test. */
let counter = 0;
export function uniqueNamespace(label = 't'): string {
  return `${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}
