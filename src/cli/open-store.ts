/**
 * Opens the store a `--store` URL names, with the clients tenure's README
 * recommends for each backend (ioredis with `failoverDetector` on Sentinel,
 * the etcd3 keepalive and breaker settings, a node-postgres pool). The client
 * packages are optional peers: each is imported only when its scheme is
 * used, and a missing one is a clear error, not a stack trace.
 *
 * `--namespace` maps onto each store's own partition: the Redis namespace,
 * the etcd key prefix `<namespace>/`, the PostgreSQL table
 * `<namespace>_leases`. The default, `tenure`, gives each store's default.
 */
import type * as Etcd3Package from 'etcd3';
import type * as IoRedisPackage from 'ioredis';
import type PgPackage from 'pg';
import type { LeaseStore } from '../lock/lease-store.js';
import { UsageError } from './args.js';
import { connectFailure } from './connect-failure.js';
import { integerParam, type StoreUrl } from './store-url.js';

export interface OpenStore {
  readonly store: LeaseStore;
  /** PostgreSQL only: creates the lease table (`tenure init`). */
  readonly createTable?: () => Promise<void>;
  /**
   * Redis: the error its client reported while connecting, when the first
   * connection failed (refused, DNS, auth): requests would only wait for a
   * reconnection that may never come. Undefined when it connected, or is
   * still trying within the bound.
   */
  readonly connectError?: unknown;
  /** Closes the store and the client tenure opened for it. */
  close(): Promise<void>;
}

/** A client package is not installed. Exits 69. */
export class MissingPackageError extends Error {
  override readonly name = 'MissingPackageError';
}

/** Timeout for connecting and for each request of the store's client. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Opens the store; `connectMs` bounds the wait for the first connection
 * (Redis; the other clients connect on their first request, which the
 * caller bounds).
 */
export async function openStore(
  url: StoreUrl,
  namespace: string,
  connectMs = CONNECT_TIMEOUT_MS,
): Promise<OpenStore> {
  switch (url.kind) {
    case 'redis':
    case 'sentinel':
    case 'cluster':
      return openRedis(url, namespace, connectMs);
    case 'postgres':
      return openPostgres(url, namespace);
    case 'etcd':
      return openEtcd(url, namespace);
  }
}

/** Loads the client package (and tenure's store) a URL needs, so later timing excludes it. */
export async function loadClient(url: StoreUrl): Promise<void> {
  if (url.kind === 'postgres') {
    await load('pg', 'postgres');
    await import('../lock/postgres/postgres-store.js');
  } else if (url.kind === 'etcd') {
    await load('etcd3', 'etcd');
    await import('../lock/etcd/etcd-store.js');
  } else {
    await load('ioredis', url.kind);
    await import('../lock/redis/redis-store.js');
  }
}

async function load<T>(pkg: string, scheme: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND')
      throw new MissingPackageError(
        `The ${scheme} store needs the ${pkg} package: npm install ${pkg}`,
      );
    throw error;
  }
}

async function openRedis(url: StoreUrl, namespace: string, connectMs: number): Promise<OpenStore> {
  const { Redis, Cluster } = await load<typeof IoRedisPackage>('ioredis', url.kind);
  const { RedisLeaseStore } = await import('../lock/redis/redis-store.js');
  const auth = {
    ...(url.username === undefined ? {} : { username: url.username }),
    ...(url.password === undefined ? {} : { password: url.password }),
  };
  const common = { connectTimeout: CONNECT_TIMEOUT_MS, lazyConnect: true };
  const first = url.hosts[0] as { host: string; port: number };
  const client =
    url.kind === 'cluster'
      ? new Cluster([...url.hosts], {
          lazyConnect: true, // connect() below resolves once the slots are known: list() needs them
          redisOptions: { connectTimeout: CONNECT_TIMEOUT_MS, ...auth },
        })
      : url.kind === 'sentinel'
        ? new Redis({
            ...common,
            ...auth,
            sentinels: [...url.hosts],
            name: url.master,
            db: url.db,
            failoverDetector: true,
            ...(url.params['sentinelPassword'] === undefined
              ? {}
              : { sentinelPassword: url.params['sentinelPassword'] }),
          })
        : new Redis({
            ...common,
            ...auth,
            host: first.host,
            port: first.port,
            db: url.db,
            ...(url.tls ? { tls: { servername: first.host } } : {}),
          });
  // Connection failures surface as store errors from the requests; without a
  // listener ioredis would print each reconnect attempt's error. The first one
  // that names why the connection failed ends the wait below at once.
  let connectError: unknown;
  let failed = (): void => {};
  const onError = (error: unknown): void => {
    if (connectError !== undefined || connectFailure(error) === null) return;
    connectError = error;
    failed();
  };
  client.on('error', onError);
  if (url.kind === 'cluster') client.on('node error', onError);
  const waitReplicas = integerParam(url, 'waitReplicas', 0);
  const quarantineMs = integerParam(url, 'quarantineMs', 0);
  const store = new RedisLeaseStore({
    client,
    namespace,
    ...(waitReplicas === undefined ? {} : { waitReplicas }),
    ...(quarantineMs === undefined ? {} : { quarantineMs }),
  });
  // Bounded: a server that accepts the connection and never answers (paused) would
  // otherwise hold connect() forever. Not fatal either way: requests time out and report
  // the store unavailable, and `run` keeps campaigning until the server is back.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.connect().catch((error: unknown) => onError(error)),
    new Promise<void>((resolve) => {
      failed = resolve;
      timer = setTimeout(resolve, connectMs);
    }),
  ]);
  clearTimeout(timer);
  // ioredis' Cluster reports a refused or unresolvable seed only as "Connection is closed":
  // dial the seeds to learn why, when none of them answered.
  if (url.kind === 'cluster' && connectError === undefined && client.status !== 'ready')
    connectError = await dialFailure(url.hosts, connectMs);
  return {
    store,
    ...(connectError === undefined ? {} : { connectError }),
    async close() {
      await store.close();
      client.disconnect();
    },
  };
}

async function openPostgres(url: StoreUrl, namespace: string): Promise<OpenStore> {
  const pg = await load<{ default: typeof PgPackage }>('pg', 'postgres');
  const { PostgresLeaseStore } = await import('../lock/postgres/postgres-store.js');
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,46}$/.test(namespace))
    throw new UsageError(
      `On PostgreSQL the namespace names the table <namespace>_leases: use 1–47 letters, digits and '_' (not starting with a digit), got ${JSON.stringify(namespace)}`,
    );
  const pool = new pg.default.Pool({
    connectionString: url.raw,
    max: 4,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  pool.on('error', () => {}); // an idle connection broke; the next statement reconnects
  const store = new PostgresLeaseStore({ pool, table: `${namespace}_leases` });
  return {
    store,
    createTable: () => store.createTable(),
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

async function openEtcd(url: StoreUrl, namespace: string): Promise<OpenStore> {
  const { Etcd3 } = await load<typeof Etcd3Package>('etcd3', 'etcd');
  const { EtcdLeaseStore } = await import('../lock/etcd/etcd-store.js');
  if ((url.username === undefined) !== (url.password === undefined))
    throw new UsageError('An etcd:// URL needs both a user and a password, or neither');
  const client = new Etcd3({
    hosts: url.hosts.map(
      (h) =>
        `${url.tls ? 'https' : 'http'}://${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`,
    ),
    dialTimeout: CONNECT_TIMEOUT_MS,
    grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 },
    ...(url.username === undefined
      ? {}
      : { auth: { username: url.username, password: url.password as string } }),
  });
  const store = new EtcdLeaseStore({ client, prefix: `${namespace}/` });
  return {
    store,
    async close() {
      await store.close();
      client.close();
    },
  };
}

/**
 * Opens (and closes) a TCP connection to each host; when every one fails,
 * the first failure (a socket error naming ECONNREFUSED, ENOTFOUND, …),
 * else undefined. Bounded by `timeoutMs`.
 */
async function dialFailure(
  hosts: readonly { host: string; port: number }[],
  timeoutMs: number,
): Promise<Error | undefined> {
  const { connect } = await import('node:net');
  const dial = (host: string, port: number): Promise<Error | undefined> =>
    new Promise((resolve) => {
      const socket = connect({ host, port, timeout: timeoutMs });
      const done = (error?: Error): void => {
        socket.destroy();
        resolve(error);
      };
      socket.once('connect', () => done());
      socket.once('timeout', () => done());
      socket.once('error', done);
    });
  const results = await Promise.all(hosts.map((h) => dial(h.host, h.port)));
  return results.every((r) => r !== undefined) ? results[0] : undefined;
}
