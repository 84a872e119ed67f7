/**
 * A private Redis Sentinel deployment for one test file: 1 primary, 2
 * replicas (`redis-server --replicaof`) and 3 sentinels (Debian's
 * `redis-sentinel`, quorum 2, `down-after-milliseconds` 1000), every process
 * on a free loopback port with its files in a temporary directory, torn
 * down by `stop()`. Clients connect through the sentinels:
 * `new Redis({ sentinels, name })`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { FaultProxy } from '../fault/proxy.js';
import { reapOnExit } from './reaper.js';
import { freePort, RedisServer, waitForReplicas } from './redis-server.js';
import { serverReady } from './server-ready.js';

export const SENTINEL_BIN = process.env['TENURE_REDIS_SENTINEL'] ?? 'redis-sentinel';
export const MASTER_NAME = 'tenure';

export interface SentinelGroupOptions {
  /**
   * The replicas replicate through a FaultProxy each (`replicationLinks`), so
   * a test can stall replication. Sentinel reconfigures a replica that names
   * another address than the primary's once `failoverTimeoutMs` has passed
   * (+fix-slave-config): keep that longer than the test.
   */
  replicationProxies?: boolean;
  /** `sentinel failover-timeout`. @default 5000 */
  failoverTimeoutMs?: number;
  /** `replica-priority` of servers[1] (lower is promoted first). @default 100 */
  firstReplicaPriority?: number;
}

export class RedisSentinelGroup {
  readonly servers: RedisServer[];
  /** With `replicationProxies`: the link of each replica (servers[1], servers[2]) to the first primary. */
  readonly replicationLinks: FaultProxy[] = [];
  readonly #failoverTimeoutMs: number;
  readonly sentinelPorts: number[] = [];
  readonly #sentinels: ChildProcess[] = [];
  readonly #dir = mkdtempSync(join(tmpdir(), 'tenure-sentinel-'));
  readonly #clients = new Set<Redis>();

  private constructor(servers: RedisServer[], failoverTimeoutMs: number) {
    this.servers = servers;
    this.#failoverTimeoutMs = failoverTimeoutMs;
  }

  static async start(options: SentinelGroupOptions = {}): Promise<RedisSentinelGroup> {
    const primary = await RedisServer.start();
    const servers = [primary];
    const group = new RedisSentinelGroup(servers, options.failoverTimeoutMs ?? 5000);
    try {
      for (let i = 0; i < 2; i++) {
        let port = primary.port;
        if (options.replicationProxies) {
          const link = await FaultProxy.start(primary.port);
          group.replicationLinks.push(link);
          port = link.port;
        }
        const priority = i === 0 ? (options.firstReplicaPriority ?? 100) : 100;
        servers.push(
          await RedisServer.start([
            '--replicaof',
            primary.host,
            String(port),
            '--replica-priority',
            String(priority),
          ]),
        );
      }
      const admin = primary.client();
      await waitForReplicas(admin, 2).finally(() => admin.disconnect());
      for (let i = 0; i < 3; i++) await group.#startSentinel(i, primary.port);
      await group.waitUntilReady();
      return group;
    } catch (error) {
      await group.stop();
      throw error;
    }
  }

  /** The sentinels as ioredis wants them. */
  get sentinels(): { host: string; port: number }[] {
    return this.sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
  }

  /** A client through the sentinels (follows fail-overs), closed by `stop()`. */
  client(options: RedisOptions = {}): Redis {
    const client = new Redis({
      sentinels: this.sentinels,
      name: MASTER_NAME,
      sentinelRetryStrategy: () => 100,
      retryStrategy: () => 50,
      maxRetriesPerRequest: 1,
      ...options,
    } as RedisOptions as never);
    client.on('error', () => undefined);
    this.#clients.add(client);
    return client;
  }

  /** The server sentinel number `sentinel` names as primary now. */
  async primary(sentinel = 0): Promise<RedisServer> {
    const port = this.sentinelPorts[sentinel] ?? 0;
    const s = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    try {
      await s.connect();
      const [, primaryPort] = (await s.call(
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        MASTER_NAME,
      )) as [string, string];
      const found = this.servers.find((srv) => srv.port === Number(primaryPort));
      if (!found) throw new Error(`unknown primary port ${primaryPort}`);
      return found;
    } finally {
      s.disconnect();
    }
  }

  /** Resolves once every sentinel sees the primary with 2 replicas and the 2 other sentinels. */
  async waitUntilReady(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      let ok = true;
      for (const port of this.sentinelPorts) {
        const s = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
        try {
          await s.connect();
          const flat = (await s.call('SENTINEL', 'MASTER', MASTER_NAME)) as string[];
          const info = new Map<string, string>();
          for (let i = 0; i + 1 < flat.length; i += 2) info.set(flat[i]!, flat[i + 1]!);
          if (
            info.get('num-slaves') !== '2' ||
            info.get('num-other-sentinels') !== '2' ||
            (info.get('flags') ?? '').includes('down')
          )
            ok = false;
        } catch {
          ok = false;
        } finally {
          s.disconnect();
        }
      }
      if (ok) return;
      if (Date.now() > until) throw new Error('sentinels not ready');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** `SENTINEL FAILOVER`: a graceful fail-over, without agreement from the other sentinels. */
  async failover(): Promise<void> {
    const s = new Redis({ host: '127.0.0.1', port: this.sentinelPorts[0] ?? 0, lazyConnect: true });
    try {
      await s.connect();
      await s.call('SENTINEL', 'FAILOVER', MASTER_NAME);
    } finally {
      s.disconnect();
    }
  }

  /**
   * Resolves with the new primary once the sentinels name another server than
   * `old`. If they have not after `forceAfterMs`, it asks for `SENTINEL
   * FAILOVER` (once a second, until one is accepted): a voted fail-over that
   * failed (a split vote) is retried only after 2 × failover-timeout.
   */
  async waitForNewPrimary(
    old: RedisServer,
    timeoutMs = 20_000,
    forceAfterMs = 8000,
  ): Promise<RedisServer> {
    const start = Date.now();
    let forced = 0;
    for (;;) {
      // Any sentinel: the one that ran the fail-over knows first, the others by its hellos.
      for (let i = 0; i < this.sentinelPorts.length; i++) {
        const now = await this.primary(i).catch(() => old);
        if (now !== old) return now;
      }
      const waited = Date.now() - start;
      if (waited > timeoutMs) throw new Error('no fail-over');
      if (waited > forceAfterMs && Date.now() - forced > 1000) {
        forced = Date.now();
        await this.failover().catch(() => undefined); // INPROG while a fail-over runs
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGKILLs the primary and both replicas (the sentinels stay). */
  async killAll(): Promise<void> {
    await Promise.all(this.servers.map((srv) => srv.kill()));
  }

  /**
   * Starts the three servers again on their ports (no data: nothing is kept
   * on disk); the sentinels, which saw no replica to promote, still name the
   * same primary, and the replicas find it again.
   */
  async restartAll(): Promise<void> {
    await Promise.all(this.servers.map((srv) => srv.restart()));
    await this.waitUntilReady();
  }

  async stop(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    for (const s of this.#sentinels) {
      if (s.exitCode !== null || s.signalCode !== null) continue;
      const exited = new Promise((resolve) => s.once('exit', resolve));
      s.kill('SIGKILL');
      await exited;
    }
    await Promise.all(this.servers.map((srv) => srv.stop()));
    await Promise.all(this.replicationLinks.map((link) => link.close()));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #startSentinel(index: number, primaryPort: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const conf = join(this.#dir, `sentinel-${index}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${this.#dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} ${this.#failoverTimeoutMs}`,
          `sentinel parallel-syncs ${MASTER_NAME} 2`,
          '',
        ].join('\n'),
      );
      const child = spawn(SENTINEL_BIN, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      reapOnExit(child);
      try {
        await serverReady(
          child,
          '+monitor master',
          'redis-sentinel',
          10_000,
          (error) =>
            `cannot run ${SENTINEL_BIN} (${error.message}): apt-get install redis-sentinel`,
        );
        this.#sentinels.push(child);
        this.sentinelPorts.push(port);
        return;
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  }
}
