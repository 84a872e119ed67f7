/**
 * One elector in its own process, for tests that send real signals
 * (SIGSTOP, SIGKILL). Started with child_process.fork from compiled JS
 * (.build/test/helpers/elector-worker.js). Config comes in TENURE_WORKER
 * (JSON); every event goes to the parent over IPC with a
 * process.hrtime.bigint() timestamp, which is CLOCK_MONOTONIC on Linux and so
 * comparable across processes.
 */
import { Etcd3 } from 'etcd3';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { Elector } from '../../src/election/elector.js';
import { EtcdLeaseStore } from '../../src/lock/etcd/etcd-store.js';
import { clientOptions } from './etcd-cluster.js';
import type { LeaseStore } from '../../src/lock/lease-store.js';
import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';

export interface WorkerConfig {
  /** The store's server: a redis-server, or PostgreSQL with `postgres` set. */
  port: number;
  /** Redis namespace, or the PostgreSQL table. */
  namespace: string;
  /** Use PostgreSQL (user `tenure`, database `postgres` on 127.0.0.1). */
  postgres?: boolean;
  /**
   * PostgreSQL through PgBouncer: `port` is PgBouncer's, this is the server's own port for
   * the LISTEN connection, and no named prepared statements are used.
   */
  directPort?: number;
  /** Use Redis through Sentinel: every sentinel's port (`port` is then unused). */
  sentinels?: number[];
  /** Use a Redis Cluster: every node's port (`port` is then unused). */
  redisCluster?: number[];
  /** Use etcd: the client endpoints of every member (`port` is then unused); `namespace` is the key prefix. */
  etcd?: string[];
  election: string;
  identity: string;
  ttlMs: number;
  renewMs: number;
  retryMs: number;
  retryJitterMs: number;
  campaign?: boolean;
}

export type WorkerMessage =
  | { ev: 'ready'; t: string }
  | { ev: 'elected'; term: number; t: string }
  | { ev: 'revoked'; term: number; reason: string; t: string }
  | { ev: 'leader'; identity: string | null; term: number | null; t: string }
  | { ev: 'probe'; isLeader: boolean; revokedBefore: boolean; t: string }
  | { ev: 'error'; code: string; t: string }
  | { ev: 'stopped'; t: string };

const config = JSON.parse(process.env['TENURE_WORKER'] ?? '{}') as WorkerConfig;
const now = (): string => process.hrtime.bigint().toString();
const send = (message: WorkerMessage): void => {
  process.send?.(message);
};

function open(): { store: LeaseStore; close: () => Promise<unknown> } {
  if (config.sentinels) {
    const client = new Redis({
      sentinels: config.sentinels.map((port) => ({ host: '127.0.0.1', port })),
      name: 'tenure',
      sentinelRetryStrategy: () => 100,
      retryStrategy: () => 50,
      maxRetriesPerRequest: 1,
    });
    client.on('error', () => undefined);
    return {
      store: new RedisLeaseStore({ client, namespace: config.namespace }),
      close: () => Promise.resolve(client.disconnect()),
    };
  }
  if (config.redisCluster) {
    const cluster = new Cluster(
      config.redisCluster.map((port) => ({ host: '127.0.0.1', port })),
      { slotsRefreshTimeout: 2000 },
    );
    cluster.on('error', () => undefined);
    return {
      store: new RedisLeaseStore({ client: cluster, namespace: config.namespace }),
      close: () => Promise.resolve(cluster.disconnect()),
    };
  }
  if (config.etcd) {
    const client = new Etcd3({ hosts: config.etcd, ...clientOptions() });
    return {
      store: new EtcdLeaseStore({ client, prefix: config.namespace }),
      close: () => Promise.resolve(client.close()),
    };
  }
  if (config.postgres) {
    const pool = new pg.Pool({
      host: '127.0.0.1',
      port: config.port,
      user: 'tenure',
      database: 'postgres',
      max: 4,
    });
    pool.on('error', () => undefined);
    const bounced =
      config.directPort === undefined
        ? {}
        : {
            listen: {
              host: '127.0.0.1',
              port: config.directPort,
              user: 'tenure',
              database: 'postgres',
            },
            preparedStatements: false,
          };
    return {
      store: new PostgresLeaseStore({ pool, table: config.namespace, ...bounced }),
      close: () => pool.end(),
    };
  }
  const client = new Redis({
    host: '127.0.0.1',
    port: config.port,
    retryStrategy: () => 50,
    maxRetriesPerRequest: 1,
  });
  client.on('error', () => undefined);
  return {
    store: new RedisLeaseStore({ client, namespace: config.namespace }),
    close: () => client.quit(),
  };
}
const { store, close } = open();
const elector = new Elector({
  store,
  election: config.election,
  identity: config.identity,
  ttlMs: config.ttlMs,
  renewMs: config.renewMs,
  retryMs: config.retryMs,
  retryJitterMs: config.retryJitterMs,
  campaign: config.campaign ?? true,
});
let revokedSeen = false;
elector.on('elected', ({ term }) => {
  revokedSeen = false;
  send({ ev: 'elected', term, t: now() });
});
elector.on('revoked', ({ term, reason }) => {
  revokedSeen = true;
  send({ ev: 'revoked', term, reason, t: now() });
});
elector.on('leader', (l) =>
  send({ ev: 'leader', identity: l?.identity ?? null, term: l?.term ?? null, t: now() }),
);
elector.on('error', (e) =>
  send({ ev: 'error', code: (e as { code?: string }).code ?? e.name, t: now() }),
);

// After SIGSTOP/SIGCONT: what does the elector say on its first check?
process.on('SIGCONT', () =>
  send({ ev: 'probe', isLeader: elector.isLeader, revokedBefore: revokedSeen, t: now() }),
);

process.on('message', (message: { cmd?: string }) => {
  if (message.cmd === 'probe')
    send({ ev: 'probe', isLeader: elector.isLeader, revokedBefore: revokedSeen, t: now() });
  if (message.cmd === 'stop') {
    void (async () => {
      await elector.stop();
      await store.close();
      await close();
      send({ ev: 'stopped', t: now() });
      if (process.connected) process.disconnect();
    })();
  }
});

await elector.start();
send({ ev: 'ready', t: now() });
