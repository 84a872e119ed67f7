/**
 * Runs one fault scenario: a private lease server (a redis-server,
 * PostgreSQL with `backend: 'postgres'`, or a 3-member etcd cluster with
 * `backend: 'etcd'`), a redis-server (never faulted) for the fenced
 * resource, and N elector processes, each connected through its own
 * FaultProxy (a TCP proxy: the same faults for every protocol; on etcd the
 * electors' clients know every member, each behind a proxy shared by all,
 * and the members reach each other through proxies too, so one can be
 * partitioned). Collects every process's history,
 * merges it, and runs the checkers. Everything started here is stopped in
 * `finish()`/`abort()`; temp files are kept only when the scenario failed.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { PgBouncer } from '../helpers/pgbouncer.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { reapOnExit } from '../helpers/reaper.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { RedisSentinelGroup } from '../helpers/redis-sentinel.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';
import { safetyReport } from './checkers.js';
import type { HistoryEvent } from './history.js';
import type { NaiveMode } from './naive-elector.js';
import { FaultProxy } from './proxy.js';
import type { FaultWorkerConfig, FaultWorkerMessage } from './worker.js';

// From source (vitest) the compiled worker is under .build/; from .build/ (soak) it is a sibling.
const WORKER = fileURLToPath(
  import.meta.url.includes('/.build/')
    ? new URL('./worker.js', import.meta.url)
    : new URL('../../.build/test/fault/worker.js', import.meta.url),
);

/** CI parameters of FAULT-PLAN §2.1. */
export const T = 1000;
export const R = 250;
export const P = 200;
export const J = 50;
export const D = Math.ceil(0.01 * T) + 2;
export const Q = 200;
export const S = 300;
export const F_CRASH = T + P + J + S;
export const F_RELEASE = P + J + S;

export interface Worker {
  readonly proc: string;
  readonly child: ChildProcess;
  readonly proxy: FaultProxy;
  leading: number | null;
  /** Everything the process wrote to stderr (checked for unhandled errors). */
  stderr: string;
}

export type Backend = 'redis' | 'postgres' | 'etcd' | 'sentinel' | 'cluster';

export interface ScenarioOptions {
  /**
   * The lease store's server: a redis-server, PostgreSQL, a 3-member etcd
   * cluster, a Sentinel deployment (1 primary, 2 replicas replicating through
   * `sentinel.replicationLinks`, 3 sentinels) or a 6-node Redis Cluster. On
   * Sentinel and Cluster the electors' clients find the servers themselves
   * (the per-worker proxy is unused): faults there are the servers'.
   * @default 'redis'
   */
  backend?: Backend;
  /** Sentinel: `replica-priority` 1 for the first replica (Sentinel promotes it first). */
  preferFirstReplica?: boolean;
  /** The lease ttl for this scenario (renewals every ttl/4). @default T */
  ttlMs?: number;
  /** etcd: terms are the key's create revision (the rule issue 12 proposed); see revision-terms.ts. */
  revisionTerms?: boolean;
  electors?: number;
  naive?: NaiveMode;
  redisArgs?: string[];
  /** Start a replica that replicates through `replicationLink` (a FaultProxy). */
  replica?: boolean;
  /** Passed to each elector's RedisLeaseStore (with waitTimeoutMs 30). */
  waitReplicas?: number;
  /** Passed to each elector's RedisLeaseStore. */
  quarantineMs?: number;
  /** Electors run the previous acquire.lua (seeds only a missing term counter); see legacy-acquire.ts. */
  legacyAcquire?: boolean;
  /** Electors treat BUSY/LOADING/... as refusals, as before issue 10; see legacy-transient.ts. */
  legacyTransient?: boolean;
  /** PostgreSQL: start a streaming standby that replicates through `replicationLink`. */
  standby?: boolean;
  /** PostgreSQL with a standby: synchronous_standby_names '*' and synchronous_commit remote_apply. */
  synchronousStandby?: boolean;
  /** PostgreSQL: electors issue term + 1 only (no server-time floor); see legacy-terms.ts. */
  legacyTerms?: boolean;
  /**
   * PostgreSQL: every elector's statements go through its proxy to a PgBouncer in transaction
   * pooling mode; its LISTEN connection goes straight to the server.
   */
  pgbouncer?: boolean;
}

export class Scenario {
  readonly dir = mkdtempSync(join(tmpdir(), 'tenure-fault-'));
  /** Redis namespace; on PostgreSQL the lease table. */
  readonly namespace = uniqueNamespace('fault').replace(/-/g, '_');
  readonly workers: Worker[] = [];
  readonly marks: HistoryEvent[] = [];
  readonly backend: Backend;
  /** The lease ttl of this scenario's electors. */
  ttlMs = T;
  /** The lease servers on etcd (unset on the others). */
  etcd!: EtcdCluster;
  /** The lease servers on Sentinel (unset on the others). */
  sentinel!: RedisSentinelGroup;
  /** The lease servers on a Redis Cluster (unset on the others). */
  cluster!: RedisCluster;
  /** The lease server on Redis (unset on PostgreSQL). */
  redis!: RedisServer;
  /** The lease server on PostgreSQL (unset on Redis). */
  postgres!: PostgresServer;
  /** PostgreSQL: a direct pool of one connection for the harness's own statements. */
  pgAdmin!: pg.Pool;
  resource!: RedisServer;
  admin!: Redis;
  replica: RedisServer | undefined;
  standby: PostgresServer | undefined;
  bouncer: PgBouncer | undefined;
  replicationLink: FaultProxy | undefined;
  #legacyTerms = false;
  #revisionTerms = false;
  #waitReplicas = 0;
  #quarantineMs = 0;
  #legacyAcquire = false;
  #legacyTransient = false;

  static async start(options: ScenarioOptions = {}): Promise<Scenario> {
    if (!existsSync(WORKER))
      throw new Error(`${WORKER} is missing: run \`npm run build:examples\``);
    const s = new Scenario(options.backend ?? 'redis');
    s.resource = await RedisServer.start();
    if (s.backend === 'postgres') {
      await s.#startPostgres(options);
    } else if (s.backend === 'etcd') {
      s.etcd = await EtcdCluster.start({ peerProxies: true, clientProxies: true });
      s.#revisionTerms = options.revisionTerms ?? false;
    } else if (s.backend === 'sentinel') {
      s.sentinel = await RedisSentinelGroup.start({
        replicationProxies: true,
        failoverTimeoutMs: 120_000,
        ...(options.preferFirstReplica ? { firstReplicaPriority: 1 } : {}),
      });
    } else if (s.backend === 'cluster') {
      s.cluster = await RedisCluster.start();
    } else {
      s.redis = await RedisServer.start(options.redisArgs ?? []);
      s.admin = s.redis.client();
    }
    s.ttlMs = options.ttlMs ?? T;
    s.#legacyTerms = options.legacyTerms ?? false;
    s.#waitReplicas = options.waitReplicas ?? 0;
    s.#quarantineMs = options.quarantineMs ?? 0;
    s.#legacyAcquire = options.legacyAcquire ?? false;
    s.#legacyTransient = options.legacyTransient ?? false;
    if (options.replica && s.backend === 'redis') {
      s.replicationLink = await FaultProxy.start(s.redis.port);
      s.replica = await s.redis.startReplica(s.replicationLink.port);
    }
    for (let i = 0; i < (options.electors ?? 3); i++) await s.spawn(`e${i}`, options.naive);
    return s;
  }

  private constructor(backend: Backend) {
    this.backend = backend;
  }

  async #startPostgres(options: ScenarioOptions): Promise<void> {
    const sync = options.synchronousStandby
      ? ['-c', 'synchronous_standby_names=*', '-c', 'synchronous_commit=remote_apply']
      : [];
    this.postgres = await PostgresServer.start(sync);
    this.pgAdmin = this.postgres.pool({ max: 1 });
    if (options.standby) {
      this.replicationLink = await FaultProxy.start(this.postgres.port);
      this.standby = await PostgresServer.startStandby(this.replicationLink.port);
      await waitForStreaming(this.pgAdmin, options.synchronousStandby ?? false);
    }
    if (options.pgbouncer) this.bouncer = await PgBouncer.start(this.postgres, 4);
    await new PostgresLeaseStore({
      pool: this.pgAdmin,
      table: this.namespace,
      listen: false,
    }).createTable();
  }

  /** Where electors send their statements: the lease server (the primary), or PgBouncer. */
  get leasePort(): number {
    if (this.backend === 'redis') return this.redis.port;
    if (this.backend === 'etcd') return this.etcd.members[0]?.clientPort ?? 0; // (unused: see spawn)
    if (this.backend === 'sentinel') return this.sentinel.sentinelPorts[0] ?? 0; // (unused)
    if (this.backend === 'cluster') return this.cluster.nodes[0]?.port ?? 0; // (unused)
    return this.bouncer?.port ?? this.postgres.port;
  }

  /** Starts one more elector process (also used to restart a killed one). */
  async spawn(
    proc: string,
    naive?: NaiveMode,
    overrides: {
      port?: number;
      waitReplicas?: number;
      env?: Record<string, string>;
      beforeStart?: (proxy: FaultProxy) => void;
    } = {},
  ): Promise<Worker> {
    const proxy = await FaultProxy.start(overrides.port ?? this.leasePort);
    overrides.beforeStart?.(proxy);
    const config: FaultWorkerConfig = {
      proc,
      port: proxy.port,
      resourcePort: this.resource.port,
      namespace: this.backend === 'etcd' ? `${this.namespace}/` : this.namespace,
      election: 'q',
      ttlMs: this.ttlMs,
      renewMs: this.ttlMs === T ? R : Math.round(this.ttlMs / 4),
      retryMs: P,
      retryJitterMs: J,
      requestTimeoutMs: Q,
      actionMs: 50,
      file: join(this.dir, `${proc}.jsonl`),
      waitReplicas: overrides.waitReplicas ?? this.#waitReplicas,
      quarantineMs: this.#quarantineMs,
      ...(this.#legacyAcquire ? { legacyAcquire: true } : {}),
      ...(this.#legacyTransient ? { legacyTransient: true } : {}),
      ...(this.backend === 'postgres' ? { postgres: true } : {}),
      ...(this.bouncer ? { directPort: this.postgres.port } : {}),
      ...(this.#legacyTerms ? { legacyTerms: true } : {}),
      ...(this.backend === 'etcd' ? { etcd: this.etcd.proxiedEndpoints } : {}),
      ...(this.#revisionTerms ? { revisionTerms: true } : {}),
      ...(this.backend === 'sentinel' ? { sentinels: this.sentinel.sentinelPorts } : {}),
      ...(this.backend === 'cluster' ? { cluster: this.cluster.nodes.map((n) => n.port) } : {}),
      ...(naive ? { naive } : {}),
    };
    const child = fork(WORKER, [], {
      env: { ...process.env, ...overrides.env, TENURE_FAULT_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    reapOnExit(child);
    const worker: Worker = { proc, child, proxy, leading: null, stderr: '' };
    child.stderr?.on('data', (chunk: Buffer) => {
      worker.stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('message', (m: FaultWorkerMessage) => {
      if (m.ev === 'elected') worker.leading = m.term;
      if (m.ev === 'revoked') worker.leading = null;
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) =>
        reject(new Error(`worker ${proc} exited with ${code} before it was ready`)),
      );
    });
    this.workers.push(worker);
    return worker;
  }

  /** The worker that currently leads, waiting up to `timeoutMs`. */
  async leader(timeoutMs = 5000): Promise<Worker> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const leaders = this.workers.filter(
        (w) => w.leading !== null && w.child.exitCode === null && w.child.signalCode === null,
      );
      if (leaders.length >= 1) return leaders[0] as Worker;
      if (Date.now() > until) throw new Error('no leader');
      await sleep(5);
    }
  }

  /** Records a harness mark (fault start/end) on the shared time axis; returns its time. */
  mark(kind: string, phase: 'start' | 'end'): bigint {
    const t = process.hrtime.bigint();
    this.marks.push({ t: t.toString(), proc: 'harness', ev: 'fault', kind, phase });
    return t;
  }

  /** Every process's history, including processes that were killed and replaced. */
  history(): HistoryEvent[] {
    const all: HistoryEvent[] = [...this.marks];
    for (const file of readdirSync(this.dir).filter((f) => f.endsWith('.jsonl'))) {
      const text = readFileSync(join(this.dir, file), 'utf8');
      // A line being appended right now may be incomplete: only whole lines count.
      for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
        if (line) all.push(JSON.parse(line) as HistoryEvent);
      }
    }
    return all.sort((a, b) => (BigInt(a.t) < BigInt(b.t) ? -1 : BigInt(a.t) > BigInt(b.t) ? 1 : 0));
  }

  /** `T − D` for this scenario's ttl: the longest validity a request may establish. */
  get bound(): number {
    return this.ttlMs - (Math.ceil(0.01 * this.ttlMs) + 2);
  }

  async resourceTokens(): Promise<number[]> {
    const client = this.resource.client();
    const tokens = (await client.lrange(`{fenced:${this.namespace}}:log`, 0, -1)).map(Number);
    client.disconnect();
    return tokens;
  }

  /** Runs the checkers on the history so far, without stopping anything. */
  async finishPartial() {
    // Read first, then stamp the end: every event read happened before `end`, so an
    // interval still open is never cut short of an action it contains.
    const history = this.history();
    const end = process.hrtime.bigint();
    return { history, end, ...safetyReport(history, end, this.bound, await this.resourceTokens()) };
  }

  /**
   * Stops every worker gracefully (SIGKILL after 3 s), then checks the
   * history. `hygiene` lists workers that did not exit 0 after a graceful
   * stop, wrote an unhandled error to stderr, or left connections behind.
   */
  async finish() {
    const running = this.workers.filter(
      (w) => w.child.exitCode === null && w.child.signalCode === null,
    );
    await Promise.all(this.workers.map((w) => stopWorker(w.child)));
    const history = this.history();
    const end = process.hrtime.bigint(); // after everything stopped and was read
    const report = safetyReport(history, end, this.bound, await this.resourceTokens());
    const hygiene: string[] = [];
    for (const w of running)
      if (w.child.exitCode !== 0)
        hygiene.push(`${w.proc} exited with ${w.child.exitCode ?? w.child.signalCode} after stop`);
    for (const w of this.workers) {
      if (/unhandled|uncaught|MaxListenersExceeded/i.test(w.stderr))
        hygiene.push(`${w.proc} stderr: ${w.stderr.slice(0, 300)}`);
    }
    // (Behind PgBouncer the server keeps PgBouncer's pooled connections: not counted.)
    if (this.backend === 'postgres' && !this.bouncer && this.postgres.pid !== undefined) {
      const { rows } = await this.pgAdmin
        .query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
        )
        .catch(() => ({ rows: [{ n: 0 }] }));
      const count = rows[0]?.n ?? 0;
      if (count > 0)
        hygiene.push(
          `${count} client connection(s) left on the lease server after every worker stopped`,
        );
    }
    if (this.backend === 'etcd') {
      // Every worker closed its client: no connection left through the members' proxies.
      let open = 0;
      for (let i = 0; i < 50; i++) {
        open = this.etcd.members.reduce((n, m) => n + (m.clientProxy?.connections ?? 0), 0);
        if (open === 0) break;
        await sleep(20);
      }
      if (open > 0)
        hygiene.push(`${open} client connection(s) left to etcd after every worker stopped`);
    }
    if (this.backend === 'sentinel' || this.backend === 'cluster') {
      const servers = this.backend === 'sentinel' ? this.sentinel.servers : this.cluster.nodes;
      let left: string[] = [];
      for (const server of servers.filter((srv) => srv.pid !== undefined))
        left = left.concat(await clientsLeft(server));
      if (left.length > 0)
        hygiene.push(
          `${left.length} client connection(s) left on the lease servers after every worker stopped: ${left.join(' / ').slice(0, 600)}`,
        );
    }
    if (this.backend === 'redis' && this.redis.pid !== undefined) {
      // Only the harness's own admin connection may remain.
      const clients = await this.admin.client('LIST').catch(() => '');
      const count = String(clients).split('\n').filter(Boolean).length;
      if (count > 1)
        hygiene.push(
          `${count - 1} client connection(s) left on the lease server after every worker stopped`,
        );
    }
    return { history, end, hygiene, ...report };
  }

  /** Ends everything; keeps the temp directory when `keep` (a failed scenario), else deletes it. */
  async close(keep: boolean): Promise<void> {
    for (const w of this.workers) {
      if (w.child.exitCode === null && w.child.signalCode === null) {
        w.child.kill('SIGCONT');
        w.child.kill('SIGKILL');
      }
      await w.proxy.close();
    }
    if (this.backend === 'postgres') {
      await this.bouncer?.stop();
      await this.postgres.stop();
      await this.standby?.stop();
    } else if (this.backend === 'etcd') {
      await this.etcd.stop();
    } else if (this.backend === 'sentinel') {
      await this.sentinel.stop();
    } else if (this.backend === 'cluster') {
      await this.cluster.stop();
    } else {
      await this.redis.stop();
    }
    await this.resource.stop();
    await this.replica?.stop();
    await this.replicationLink?.close();
    if (keep) console.error(`fault scenario history kept in ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until the standby streams from the primary (and is its synchronous standby when `sync`). */
async function waitForStreaming(admin: pg.Pool, sync: boolean): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    const { rows } = await admin.query<{ state: string; sync_state: string }>(
      'SELECT state, sync_state FROM pg_stat_replication',
    );
    const row = rows[0];
    if (row?.state === 'streaming' && (!sync || row.sync_state === 'sync')) return;
    if (Date.now() > until) throw new Error(`standby not streaming: ${JSON.stringify(rows)}`);
    await sleep(20);
  }
}

/**
 * Client connections on `server` other than this query's, the sentinels' own
 * and another node's cached MIGRATE connection (RESTORE-ASKING, kept 10 s).
 * Checked after every worker process exited, so it sees connections the
 * harness (or a server) left, not the library's: a worker whose store left a
 * socket or timer open does not exit by itself after `stop`, is SIGKILLed
 * after 3 s and fails the "exit 0 after stop" hygiene check instead.
 */
async function clientsLeft(server: RedisServer): Promise<string[]> {
  const client = server.client();
  try {
    let lines: string[] = [];
    for (const type of ['normal', 'pubsub'])
      lines = lines.concat(String(await client.call('CLIENT', 'LIST', 'TYPE', type)).split('\n'));
    const self = String(await client.client('ID'));
    return lines.filter(
      (l) => l && !l.startsWith(`id=${self} `) && !/ name=sentinel-| cmd=restore/.test(l),
    );
  } catch {
    return [];
  } finally {
    client.disconnect();
  }
}

function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGCONT');
    if (child.connected) child.send({ cmd: 'stop' });
    else child.kill('SIGTERM');
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const msBetween = (a: bigint, b: bigint): number => Number(b - a) / 1e6;
