/**
 * The options of {@link PostgresLeaseStore} and their check. Every option is
 * validated once, at construction, in a fixed order: the first bad one
 * throws `InvalidOptionError` naming it, before the store uses the pool.
 */
import { InvalidOptionError } from '../../errors.js';
import { boolean, describe, integer, ownOptions } from '../../internal/validate.js';
import type { PgConnectionConfig, PgPoolLike } from './pg-types.js';
import { identifier, type Statements, statements } from './statements.js';

export interface PostgresLeaseStoreOptions {
  /** A node-postgres `Pool` (direct or through PgBouncer in transaction mode). Never closed by the store. */
  pool: PgPoolLike;
  /** Schema of the lease table. @default 'public' */
  schema?: string;
  /**
   * The lease table; a second table `<table>_watchers` holds the LISTEN
   * registrations. Every member of a fleet must use the same table.
   * @default 'tenure_leases'
   */
  table?: string;
  /**
   * Connection settings (a node-postgres `ClientConfig`) for the store's one
   * `LISTEN` connection, which must reach PostgreSQL directly: `LISTEN`
   * does not work through PgBouncer's transaction pooling. `false` turns
   * notifications off: waiters and followers then wake at the holder's
   * expiry (hand-over takes up to a lease instead of milliseconds).
   * @default the pool's own settings
   */
  listen?: PgConnectionConfig | false;
  /** Fair hand-off window after a release that notified a watcher (see `LeaseStore`); 0 disables. @default 50 */
  handoffMs?: number;
  /** Keep a lease's data in its row after release, for `inspect()` (pglock's KeepOnRelease). @default false */
  keepDataOnRelease?: boolean;
  /**
   * Send the store's statements as named prepared statements, parsed and
   * planned once per connection instead of on every call (see
   * docs/benchmarks.md). Turn it off behind PgBouncer older than 1.21 in transaction mode
   * (or with `max_prepared_statements = 0`), which cannot route them.
   * @default true
   */
  preparedStatements?: boolean;
  /**
   * Bound on each statement, including the wait for a pooled client; on
   * expiry the statement is cancelled on the server and the operation fails
   * with an ambiguous `StoreTimeoutError`. Keep it at or below the
   * `requestTimeoutMs` of the locks and electors using the store.
   * @default 5000
   */
  queryTimeoutMs?: number;
}

/** The options, checked and with their defaults applied. */
export interface PostgresStoreSettings {
  readonly pool: PgPoolLike;
  /** The SQL for the configured schema and table. */
  readonly sql: Statements;
  readonly handoffMs: number;
  readonly keepData: boolean;
  readonly timeoutMs: number;
  readonly prepared: boolean;
  /** Settings of the LISTEN connection, or `false`: no notifications. */
  readonly listen: PgConnectionConfig | false;
  /** The pool's client class, which opens the LISTEN connection; `undefined` exactly when `listen` is `false`. */
  readonly Client: NonNullable<PgPoolLike['Client']> | undefined;
}

const OPTIONS = [
  'pool',
  'schema',
  'table',
  'listen',
  'handoffMs',
  'keepDataOnRelease',
  'preparedStatements',
  'queryTimeoutMs',
] as const;

/** Checks the options (throws `InvalidOptionError` naming the first bad one) and applies the defaults. */
export function postgresStoreSettings(options: PostgresLeaseStoreOptions): PostgresStoreSettings {
  const o = ownOptions('PostgresLeaseStore options', options, OPTIONS);
  const pool = o['pool'] as PgPoolLike | undefined;
  if (!pool || typeof (pool as { connect?: unknown }).connect !== 'function') {
    throw new InvalidOptionError(
      'pool',
      `Expected \`pool\` to be a node-postgres Pool, got ${describe(pool)}`,
    );
  }
  const schema = identifier('schema', o['schema'] ?? 'public', 63);
  const table = identifier('table', o['table'] ?? 'tenure_leases', 54);
  const sql = statements(schema, table);
  const handoffMs = integer('handoffMs', o['handoffMs'] ?? 50, 0, 60_000);
  const keepData = boolean('keepDataOnRelease', o['keepDataOnRelease'] ?? false);
  const timeoutMs = integer('queryTimeoutMs', o['queryTimeoutMs'] ?? 5000, 1, 600_000);
  const prepared = boolean('preparedStatements', o['preparedStatements'] ?? true);
  const given = o['listen'];
  if (given !== undefined && given !== false && (typeof given !== 'object' || given === null)) {
    throw new InvalidOptionError(
      'listen',
      `Expected \`listen\` to be a connection config object or false, got ${describe(given)}`,
    );
  }
  const listen = given === false ? false : (given ?? pool.options ?? {});
  let Client: PostgresStoreSettings['Client'];
  if (listen !== false) {
    Client = pool.Client;
    if (typeof Client !== 'function') {
      throw new InvalidOptionError(
        'pool',
        'Expected `pool` to be a node-postgres Pool (its `Client` class opens the LISTEN connection); pass `listen: false` to run without notifications',
      );
    }
  }
  return { pool, sql, handoffMs, keepData, timeoutMs, prepared, listen, Client };
}
