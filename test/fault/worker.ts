/**
 * One elector in its own process for the fault suite (compiled to
 * .build/test/fault/worker.js, started with fork). It talks to Redis through
 * its own fault proxy, records its history to a file, and every `actionMs`
 * probes `isLeader` and, when leading, writes its term to a fenced resource
 * on a separate, fault-free Redis. IPC: {cmd:'stop'} stops gracefully;
 * {cmd:'block', ms} blocks the event loop.
 */
import { Etcd3 } from 'etcd3';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { Elector, type LeaseStore, RedisLeaseStore } from '../../src/index.js';
import { EtcdLeaseStore } from '../../src/lock/etcd/etcd-store.js';
import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';
import { clientOptions } from '../helpers/etcd-cluster.js';
import { withRevisionTerms } from './revision-terms.js';
import { withLegacyAcquire } from '../helpers/legacy-acquire.js';
import { withLegacyTerms } from './legacy-terms.js';
import { withLegacyTransient } from './legacy-transient.js';
import { NaiveElector, type NaiveMode } from './naive-elector.js';
import { Recorder, hrtimeAt } from './recorder.js';
import { RecordingStore } from './recording-store.js';

export interface FaultWorkerConfig {
  proc: string;
  port: number;
  resourcePort: number;
  namespace: string;
  election: string;
  ttlMs: number;
  renewMs: number;
  retryMs: number;
  retryJitterMs: number;
  requestTimeoutMs: number;
  actionMs: number;
  file: string;
  waitReplicas: number;
  quarantineMs: number;
  /** Run the previous acquire.lua instead of the shipped one (the U7 must-fire scenario). */
  legacyAcquire?: boolean;
  /** Treat BUSY/LOADING/... as refusals, as before issue 10 (the U8 must-fire scenario). */
  legacyTransient?: boolean;
  /** The lease server is PostgreSQL (`namespace` is the table); LISTEN goes through the proxy too. */
  postgres?: boolean;
  /** PostgreSQL: the naive term rule (see legacy-terms.ts; a must-fire scenario). */
  legacyTerms?: boolean;
  /** PostgreSQL behind PgBouncer: the server's own port for LISTEN; no named prepared statements. */
  directPort?: number;
  /** The lease server is etcd: every member's client endpoint (`namespace` is the key prefix; `port` unused). */
  etcd?: string[];
  /** etcd: terms are the key's create revision (see revision-terms.ts; a must-fire scenario). */
  revisionTerms?: boolean;
  /** Redis Sentinel: the sentinels' ports, master name 'tenure' (`port` unused). */
  sentinels?: number[];
  /** Redis Cluster: every node's port (`port` unused). */
  cluster?: number[];
  naive?: NaiveMode;
}

export type FaultWorkerMessage =
  | { ev: 'ready' }
  | { ev: 'elected'; term: number }
  | { ev: 'revoked'; term: number; reason: string }
  | { ev: 'stopped' };

/*
  KEYS[1] max token, KEYS[2] log; ARGV[1] token
  Returns 1 and appends the token when it is >= the max seen, else 0.
*/
const FENCED_WRITE = `
local max = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) >= max then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0`;

const c = JSON.parse(process.env['TENURE_FAULT_WORKER'] ?? '{}') as FaultWorkerConfig;
const rec = new Recorder(c.file, c.proc);
const send = (m: FaultWorkerMessage): void => {
  if (process.connected) process.send?.(m);
};
rec.write({ ev: 'start' });

const resource = new Redis({ host: '127.0.0.1', port: c.resourcePort, retryStrategy: () => 50 });
resource.on('error', () => undefined);

/** The lease store through this worker's proxy, and how to close its connections. */
function leaseStore(): { store: LeaseStore; disconnect: () => void } {
  if (c.etcd) {
    const client = new Etcd3({ hosts: c.etcd, ...clientOptions() });
    const etcd = new EtcdLeaseStore({
      client,
      prefix: c.namespace,
      requestTimeoutMs: c.requestTimeoutMs,
      watchHeartbeatMs: 1000,
    });
    const store = c.revisionTerms ? withRevisionTerms(etcd, client, c.namespace) : etcd;
    return { store, disconnect: () => client.close() };
  }
  if (c.postgres) {
    const connection = { host: '127.0.0.1', port: c.port, user: 'tenure', database: 'postgres' };
    const pool = new pg.Pool({
      ...connection,
      max: 4,
      connectionTimeoutMillis: c.requestTimeoutMs,
    });
    pool.on('error', () => undefined);
    const store = new PostgresLeaseStore({
      pool: c.legacyTerms ? withLegacyTerms(pool) : pool,
      table: c.namespace,
      listen: c.directPort === undefined ? connection : { ...connection, port: c.directPort },
      preparedStatements: c.directPort === undefined,
      queryTimeoutMs: c.requestTimeoutMs,
    });
    return { store, disconnect: () => void pool.end().catch(() => undefined) };
  }
  const client = c.cluster
    ? new Cluster(
        c.cluster.map((port) => ({ host: '127.0.0.1', port })),
        { clusterRetryStrategy: () => 50, redisOptions: { maxRetriesPerRequest: 0 } },
      )
    : new Redis({
        ...(c.sentinels
          ? {
              sentinels: c.sentinels.map((port) => ({ host: '127.0.0.1', port })),
              name: 'tenure',
              sentinelRetryStrategy: () => 50,
              // Reconnect on the sentinels' +switch-master: without it a client stays on a
              // demoted primary until the sentinels convert it (8 s or more; README).
              failoverDetector: true,
            }
          : { host: '127.0.0.1', port: c.port }),
        retryStrategy: () => 50,
        maxRetriesPerRequest: 0,
      });
  client.on('error', () => undefined);
  const store = new RedisLeaseStore({
    client: c.legacyAcquire ? withLegacyAcquire(client) : client,
    namespace: c.namespace,
    waitReplicas: c.waitReplicas,
    waitTimeoutMs: 30,
    quarantineMs: c.quarantineMs,
  });
  return { store, disconnect: () => client.disconnect() };
}
const lease = leaseStore();
const store = new RecordingStore(
  c.legacyTransient ? withLegacyTransient(lease.store) : lease.store,
  rec,
);

let isLeader: () => boolean;
let currentTerm: () => number | null;
let stop: () => Promise<void>;

if (c.naive) {
  const naive = new NaiveElector(
    store,
    {
      election: c.election,
      identity: c.proc,
      ttlMs: c.ttlMs,
      renewMs: c.renewMs,
      retryMs: c.retryMs,
      mode: c.naive,
    },
    {
      elected: (term, deadline) => {
        rec.write({
          ev: 'became_leader',
          term,
          deadline: hrtimeAt(deadline),
        });
        send({ ev: 'elected', term });
      },
      extended: (term, deadline) =>
        rec.write({ ev: 'deadline', term, deadline: hrtimeAt(deadline) }),
      revoked: (term, reason) => {
        rec.write({ ev: 'stepped_down', term, reason });
        send({ ev: 'revoked', term, reason });
      },
    },
  );
  naive.start();
  isLeader = () => naive.isLeader;
  currentTerm = () => naive.term;
  stop = () => Promise.resolve(naive.stop());
} else {
  const elector = new Elector({
    store,
    election: c.election,
    identity: c.proc,
    ttlMs: c.ttlMs,
    renewMs: c.renewMs,
    retryMs: c.retryMs,
    retryJitterMs: c.retryJitterMs,
    requestTimeoutMs: c.requestTimeoutMs,
  });
  elector.on('elected', ({ term }) => {
    rec.write({
      ev: 'became_leader',
      term,
      deadline: hrtimeAt(elector.deadline ?? performance.now()),
    });
    send({ ev: 'elected', term });
  });
  elector.on('revoked', ({ term, reason }) => {
    rec.write({ ev: 'stepped_down', term, reason });
    send({ ev: 'revoked', term, reason });
  });
  elector.on('error', (e) =>
    rec.write({ ev: 'error', code: (e as { code?: string }).code ?? e.name, message: e.message }),
  );
  store.onRenewed = (term) => {
    if (elector.term === term)
      rec.write({
        ev: 'deadline',
        term,
        deadline: hrtimeAt(elector.deadline ?? performance.now()),
      });
  };
  void elector.start();
  isLeader = () => elector.isLeader;
  currentTerm = () => elector.term;
  stop = () => elector.stop();
}

const keys = [`{fenced:${c.namespace}}:max`, `{fenced:${c.namespace}}:log`];
const act = setInterval(() => {
  // The decision to act is the isLeader check; stamp it right before the check (a lower
  // bound of the decision time, within a microsecond), not after the probe is written to
  // disk: that synchronous write once took 29 µs, enough to stamp a decision made before
  // the deadline after it (a false fencing violation). The resource answers later.
  const sent = process.hrtime.bigint().toString();
  const leading = isLeader();
  const term = currentTerm();
  rec.write({ ev: 'probe', value: leading, term });
  if (!leading || term === null) return;
  resource
    .eval(FENCED_WRITE, 2, keys[0] as string, keys[1] as string, String(term))
    .then((r) => rec.write({ ev: 'action', term, accepted: Number(r) === 1, sent }))
    .catch(() => undefined);
}, c.actionMs);

const memory = setInterval(() => rec.write({ ev: 'mem', rss: process.memoryUsage().rss }), 10_000);
memory.unref();

process.on('SIGCONT', () =>
  rec.write({ ev: 'probe', value: isLeader(), term: currentTerm(), after: 'SIGCONT' }),
);

const shutdown = async (): Promise<void> => {
  clearInterval(act);
  clearInterval(memory);
  await stop();
  await store.close();
  lease.disconnect();
  resource.disconnect();
  rec.write({ ev: 'exit' });
  send({ ev: 'stopped' });
  if (process.connected) process.disconnect();
};
process.on('SIGTERM', () => void shutdown());
process.on('message', (m: { cmd?: string; ms?: number }) => {
  if (m.cmd === 'stop') void shutdown();
  if (m.cmd === 'block') {
    const until = performance.now() + (m.ms ?? 0);
    rec.write({ ev: 'fault', kind: 'block', phase: 'start' });
    while (performance.now() < until) {
      // a synchronous busy loop: the event loop is blocked
    }
    rec.write({ ev: 'fault', kind: 'block', phase: 'end' });
  }
});
send({ ev: 'ready' });
