/**
 * {@link LeaseStore} on PostgreSQL through the caller's node-postgres pool.
 *
 * - One statement per operation, no multi-statement transactions (so it
 *   works through PgBouncer in transaction pooling mode): see `sql/*.sql`.
 *   Expiry is stored and compared with the server's `clock_timestamp()`;
 *   the holder's own validity still comes from its monotonic clock
 *   (`LeaseKeeper`).
 * - One row per name, kept across releases: the term is
 *   `greatest(previous + 1, server time in µs)`, so it keeps growing after
 *   a restore from an older backup or a fail-over to a standby that lagged.
 * - Notifications: acquire, update and release `pg_notify` a channel per name in
 *   the same statement; the store listens on one dedicated connection of its
 *   own (`listen`), registered as a watcher so releases know whom they
 *   notified (the fair hand-off). Without it (`listen: false`) waiters and
 *   followers wake at the holder's expiry.
 * - The first operation checks once that the table exists with this
 *   version's schema (one extra round trip).
 * - Every statement is bounded by `queryTimeoutMs` and cancelled on the
 *   server when it runs out (an ambiguous `StoreTimeoutError`).
 */
import { createHash } from 'node:crypto';
import {
  ConfigurationError,
  SchemaMissingError,
  InvalidOptionError,
  StoreClosedError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  type TenureError,
} from '../../errors.js';
import { boolean, describe, integer, ownOptions } from '../../internal/validate.js';
import { ChannelSubscriptions } from '../channel-subscriptions.js';
import type {
  AcquireRequest,
  AcquireResult,
  LeaseEvent,
  LeaseEventDetail,
  LeaseHolder,
  LeaseRef,
  LeaseStore,
  ListedLease,
  RenewResult,
  Unsubscribe,
  UpdateResult,
} from '../lease-store.js';
import { classifyPostgresError } from './classify-error.js';
import { ListenConnection, RECONNECTED } from './listen-connection.js';
import type { PgConnectionConfig, PgPoolLike } from './pg-types.js';
import { NotSentError, runStatement } from './run-statement.js';
import { identifier, SCHEMA_COMMENT, type Statements, statements } from './statements.js';

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

/** A lease row as `inspect()` reads it, held or not. */
export interface LeaseRecord {
  readonly name: string;
  /** Whether someone holds it now. */
  readonly held: boolean;
  /** The latest holder's identity (kept after release). */
  readonly identity: string;
  /** The latest term issued for the name. */
  readonly term: number;
  /** The holder's data; after release only with `keepDataOnRelease`. */
  readonly data: string;
  /** Time to expiry while held, else 0. */
  readonly remainingMs: number;
}

/** $1 schema, $2 table, $3 watchers table (quoted, qualified). */
const SCHEMA_STATE = `SELECT to_regnamespace($1) IS NOT NULL AS schema,
  to_regclass($2) IS NOT NULL AS table, to_regclass($3) IS NOT NULL AS watchers,
  obj_description(to_regclass($2), 'pg_class') AS comment`;

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

export class PostgresLeaseStore implements LeaseStore {
  readonly kind = 'postgres';
  readonly #pool: PgPoolLike;
  readonly #sql: Statements;
  readonly #listen: PgConnectionConfig | false;
  readonly #handoffMs: number;
  readonly #keepData: boolean;
  readonly #timeoutMs: number;
  readonly #prepared: boolean;
  readonly #subscriptions: ChannelSubscriptions | undefined;
  #schemaChecked: Promise<void> | undefined;
  /** Hand-back attempts of acquisitions that timed out (see `#handBack`). */
  readonly #handBacks = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  constructor(options: PostgresLeaseStoreOptions) {
    const o = ownOptions('PostgresLeaseStore options', options, OPTIONS);
    const pool = o['pool'] as PgPoolLike | undefined;
    if (!pool || typeof (pool as { connect?: unknown }).connect !== 'function') {
      throw new InvalidOptionError(
        'pool',
        `Expected \`pool\` to be a node-postgres Pool, got ${describe(pool)}`,
      );
    }
    this.#pool = pool;
    const schema = identifier('schema', o['schema'] ?? 'public', 63);
    const table = identifier('table', o['table'] ?? 'tenure_leases', 54);
    this.#sql = statements(schema, table);
    this.#handoffMs = integer('handoffMs', o['handoffMs'] ?? 50, 0, 60_000);
    this.#keepData = boolean('keepDataOnRelease', o['keepDataOnRelease'] ?? false);
    this.#timeoutMs = integer('queryTimeoutMs', o['queryTimeoutMs'] ?? 5000, 1, 600_000);
    this.#prepared = boolean('preparedStatements', o['preparedStatements'] ?? true);
    const listen = o['listen'];
    if (
      listen !== undefined &&
      listen !== false &&
      (typeof listen !== 'object' || listen === null)
    ) {
      throw new InvalidOptionError(
        'listen',
        `Expected \`listen\` to be a connection config object or false, got ${describe(listen)}`,
      );
    }
    this.#listen = listen === false ? false : (listen ?? pool.options ?? {});
    if (this.#listen !== false) {
      const Client = pool.Client;
      if (typeof Client !== 'function') {
        throw new InvalidOptionError(
          'pool',
          'Expected `pool` to be a node-postgres Pool (its `Client` class opens the LISTEN connection); pass `listen: false` to run without notifications',
        );
      }
      const config = this.#listen;
      const sql = this.#sql;
      this.#subscriptions = new ChannelSubscriptions(
        () => new ListenConnection(Client, config, sql),
      );
    }
  }

  /** The qualified table, e.g. `"public"."tenure_leases"`. */
  get table(): string {
    return this.#sql.table;
  }

  /**
   * Creates the schema (if missing), the lease table and its watchers table,
   * idempotently. Safe when a whole fleet calls it at once: the DDL is
   * serialized by a transaction-scoped advisory lock. Refuses a table of
   * another schema version. The same SQL ships as `tenure/postgres/schema.sql`.
   */
  async createTable(): Promise<void> {
    this.#assertOpen();
    // Usually it all exists already (every process of a fleet calls this at start):
    // one bounded read, no lock, no DDL.
    const found = await this.#schemaState();
    if (found.table && found.watchers) {
      this.#checkComment(found.comment);
      this.#schemaChecked = Promise.resolve();
      return;
    }
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw this.#classify(new NotSentError('createTable', { cause: error }), 'createTable', '');
    });
    const ignore = (): void => undefined; // see runStatement: a checked-out client needs one
    client.on?.('error', ignore);
    let failure: unknown;
    try {
      await client.query('BEGIN');
      // Every wait (the advisory lock, a table lock held by VACUUM...) is bounded.
      await client.query(`SET LOCAL lock_timeout = ${this.#timeoutMs}`);
      await client.query(`SET LOCAL statement_timeout = ${this.#timeoutMs}`);
      await client.query({
        text: 'SELECT pg_advisory_xact_lock(1952804469, hashtext($1))',
        values: [this.#sql.table],
      });
      const locked = await client.query({ text: SCHEMA_STATE, values: this.#schemaStateValues() });
      const row = locked.rows[0] ?? {};
      if (row['table'] === true) this.#checkComment(row['comment']);
      if (row['schema'] !== true)
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.#sql.schemaName}"`);
      await client.query(this.#sql.schema);
      await client.query('COMMIT');
    } catch (error) {
      failure = error;
      await client.query('ROLLBACK').catch(() => undefined);
    } finally {
      const broken =
        failure instanceof ConfigurationError ? undefined : (failure as Error | undefined);
      if (!broken) client.off?.('error', ignore);
      client.release(broken);
    }
    if (failure !== undefined) throw this.#classify(failure, 'createTable', '');
    this.#schemaChecked = Promise.resolve();
  }

  async #schemaState(): Promise<{ table: boolean; watchers: boolean; comment: unknown }> {
    const rows = await runStatement(
      this.#pool,
      'schema check',
      SCHEMA_STATE,
      this.#schemaStateValues(),
      this.#timeoutMs,
    ).catch((error: unknown) => {
      throw this.#classify(error, 'schema check', '');
    });
    const row = rows[0] ?? {};
    return {
      table: row['table'] === true,
      watchers: row['watchers'] === true,
      comment: row['comment'],
    };
  }

  #schemaStateValues(): string[] {
    return [`"${this.#sql.schemaName}"`, this.#sql.table, this.#sql.watchers];
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const row = await this.#one('acquire', request.name, this.#sql.acquire, [
      request.name,
      request.token.reveal(),
      request.identity,
      request.data,
      request.ttlMs,
      request.waiting === true,
      this.#channel(request.name),
    ]).catch((error: unknown) => {
      // Timed out: the statement may still apply later (a stalled server runs it when it
      // resumes). Nobody will use that grant: hand it back if it shows up.
      if (error instanceof StoreTimeoutError) this.#handBack(request);
      throw error;
    });
    if (!row) throw this.#classify(new Error('acquire returned no row'), 'acquire', request.name);
    const term = Number(row['term']);
    if (row['acquired'] === true) return { acquired: true, term };
    const remainingMs = Number(row['remaining_ms']);
    if (remainingMs > 0) {
      return {
        acquired: false,
        holder: { identity: String(row['identity']), term, data: String(row['data']), remainingMs },
      };
    }
    return { acquired: false, holder: null, reservedMs: Math.max(1, Number(row['reserved_ms'])) };
  }

  async renew(lease: LeaseRef, ttlMs: number): Promise<RenewResult> {
    const row = await this.#one('renew', lease.name, this.#sql.renew, [
      lease.name,
      lease.token.reveal(),
      ttlMs,
    ]);
    if (row?.['renewed'] === true) return 'renewed';
    return row?.['held'] === true ? 'stolen' : 'expired';
  }

  async update(lease: LeaseRef, data: string): Promise<UpdateResult> {
    const row = await this.#one('update', lease.name, this.#sql.update, [
      lease.name,
      lease.token.reveal(),
      data,
      this.#channel(lease.name),
    ]);
    if (row?.['updated'] === true) return 'updated';
    return row?.['held'] === true ? 'stolen' : 'expired';
  }

  async release(lease: LeaseRef): Promise<boolean> {
    const row = await this.#one(
      'release',
      lease.name,
      this.#sql.release,
      this.#releaseValues(lease),
    );
    return row !== undefined;
  }

  #releaseValues(lease: LeaseRef): unknown[] {
    return [
      lease.name,
      lease.token.reveal(),
      this.#keepData,
      this.#handoffMs,
      this.#channel(lease.name),
    ];
  }

  async read(name: string): Promise<LeaseHolder | null> {
    const row = await this.#one('read', name, this.#sql.read, [name]);
    return row ? holder(row) : null;
  }

  async list(prefix: string): Promise<ListedLease[]> {
    const rows = await this.#rows('list', prefix, this.#sql.list, [prefix]);
    return rows
      .map((row) => ({ name: String(row['name']), ...holder(row) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The name's row whether held or not (pglock's `GetLock`): the latest
   * identity and term, and the data (after release only with
   * `keepDataOnRelease`). `null` if the name was never acquired.
   */
  async inspect(name: string): Promise<LeaseRecord | null> {
    const row = await this.#one('inspect', name, this.#sql.inspect, [name]);
    if (!row) return null;
    const held = row['held'] === true;
    return {
      name: String(row['name']),
      held,
      identity: String(row['identity']),
      term: Number(row['term']),
      data: String(row['data']),
      remainingMs: held ? Number(row['remaining_ms']) : 0,
    };
  }

  async subscribe(
    name: string,
    listener: (event: LeaseEvent, detail?: LeaseEventDetail) => void,
  ): Promise<Unsubscribe> {
    this.#assertOpen();
    const subscriptions = this.#subscriptions;
    if (!subscriptions) return () => undefined; // listen: false: callers wake at expiry
    await this.#ensureSchema();
    const channel = this.#channel(name);
    try {
      return await subscriptions.add(channel, (message) => {
        if (message === 'acquired' || message === 'updated') listener(message);
        else if (message.startsWith('released:')) {
          const subscribers = Number(message.slice(9));
          listener('released', Number.isInteger(subscribers) ? { subscribers } : {});
        } else if (message === RECONNECTED) {
          // Notifications sent while disconnected are lost: re-read and report the state now.
          this.read(name).then(
            (holder) => listener(holder ? 'acquired' : 'released'),
            () => listener('released'),
          );
        }
      });
    } catch (error) {
      throw this.#classify(error, 'subscribe', name);
    }
  }

  async diagnose(): Promise<string[]> {
    const warnings: string[] = [];
    if (this.#listen === false) {
      warnings.push(
        "PostgreSQL notifications are off (listen: false): waiters and followers wake at the holder's expiry, so a hand-over takes up to a lease period. Pass `listen` with a direct connection (not through PgBouncer) for millisecond hand-over.",
      );
    }
    const rows = await this.#rows(
      'diagnose',
      '',
      `SELECT pg_is_in_recovery() AS standby,
              current_setting('synchronous_commit') AS commit,
              current_setting('synchronous_standby_names') AS standbys,
              (SELECT count(*) FROM pg_stat_replication)::integer AS replicas`,
      [],
    );
    const row = rows[0] ?? {};
    const standbys = typeof row['standbys'] === 'string' ? row['standbys'] : '';
    const commit = typeof row['commit'] === 'string' ? row['commit'] : '';
    if (row['standby'] === true) {
      warnings.push(
        'The pool is connected to a PostgreSQL standby (read-only): every acquisition will be refused.',
      );
    }
    const synchronous = standbys !== '' && ['on', 'remote_apply'].includes(commit);
    if (Number(row['replicas']) > 0 && !synchronous) {
      warnings.push(
        `PostgreSQL streams to ${String(row['replicas'])} standby(s) without synchronous commit (synchronous_commit=${commit}, synchronous_standby_names='${standbys}'): a fail-over to a standby that missed the latest renewals can let a second holder in while the first still trusts its lease (terms stay increasing). Set synchronous_standby_names and synchronous_commit=remote_apply (docs/safety.md).`,
      );
    }
    return warnings;
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#handBacks) clearTimeout(timer);
    this.#handBacks.clear();
    this.#subscriptions?.close();
    return Promise.resolve();
  }

  /**
   * An acquisition timed out and may still apply later. Compare-and-clear on
   * its token (a no-op unless that grant exists) after 0.25, 0.5, 1, 2 ...
   * seconds until the request's ttl has passed or a release succeeded; each
   * attempt on a fresh pooled connection. `close()` stops the attempts.
   */
  #handBack(request: AcquireRequest): void {
    const lease = { name: request.name, token: request.token, term: 0 };
    const until = performance.now() + request.ttlMs;
    const attempt = (delayMs: number): void => {
      if (this.#closed || performance.now() + delayMs > until) return;
      const timer = setTimeout(() => {
        this.#handBacks.delete(timer);
        if (this.#closed) return;
        runStatement(
          this.#pool,
          'release',
          this.#sql.release,
          this.#releaseValues(lease),
          this.#timeoutMs,
          {
            name: this.#prepared ? statementName('release', this.#sql.release) : undefined,
          },
        ).then(
          (rows) => {
            if (rows.length === 0) attempt(delayMs * 2);
          },
          () => attempt(delayMs * 2),
        );
      }, delayMs);
      timer.unref?.();
      this.#handBacks.add(timer);
    };
    attempt(250);
  }

  /** Notification channel of a name: `tenure_` + 40 hex digits of SHA-256(table, name). */
  #channel(name: string): string {
    const digest = createHash('sha256').update(`${this.#sql.table}\n${name}`).digest('hex');
    return `tenure_${digest.slice(0, 40)}`;
  }

  async #one(
    operation: string,
    name: string,
    text: string,
    values: unknown[],
  ): Promise<Record<string, unknown> | undefined> {
    return (await this.#rows(operation, name, text, values))[0];
  }

  async #rows(
    operation: string,
    name: string,
    text: string,
    values: unknown[],
  ): Promise<Record<string, unknown>[]> {
    this.#assertOpen();
    await this.#ensureSchema();
    try {
      return await runStatement(this.#pool, operation, text, values, this.#timeoutMs, {
        name: this.#prepared ? statementName(operation, text) : undefined,
      });
    } catch (error) {
      throw this.#classify(error, operation, name);
    }
  }

  /** Once per store: the table exists with this version's schema. Retried after a failure. */
  #ensureSchema(): Promise<void> {
    this.#schemaChecked ??= (async () => {
      const found = await this.#schemaState();
      if (!found.table || !found.watchers) {
        throw new SchemaMissingError(
          `The lease table ${this.#sql.table} (or its ${this.#sql.watchers}) does not exist: call \`await store.createTable()\` once (or apply tenure's postgres schema.sql)`,
        );
      }
      this.#checkComment(found.comment);
    })().catch((error: unknown) => {
      this.#schemaChecked = undefined;
      throw error;
    });
    return this.#schemaChecked;
  }

  #checkComment(comment: unknown): void {
    if (comment === SCHEMA_COMMENT) return;
    throw new ConfigurationError(
      `The lease table ${this.#sql.table} is not tenure's schema version 1 (its comment is ${describe(comment)}, expected ${JSON.stringify(SCHEMA_COMMENT)}): apply the schema of this tenure version, or use another table`,
    );
  }

  #classify(error: unknown, operation: string, name: string): TenureError {
    if (!(error instanceof NotSentError))
      return classifyPostgresError(error, operation, name, 'store.createTable()');
    // Never reached the server: whatever the reason, nothing was applied.
    const cause = error.cause ?? error;
    const classified = classifyPostgresError(cause, operation, name, 'store.createTable()');
    if (!(classified instanceof StoreError) || !classified.ambiguous) return classified;
    return new StoreUnavailableError(
      `PostgreSQL: \`${operation}\` on ${JSON.stringify(name)} was not sent: ${error.message}`,
      { cause, ambiguous: false },
    );
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

const names = new Map<string, string>();
/** A prepared statement's name: the operation and a digest of its text (which names the table). */
function statementName(operation: string, text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `tenure_${operation.replace(/\W/g, '_')}_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}

function holder(row: Record<string, unknown>): LeaseHolder {
  return {
    identity: String(row['identity']),
    term: Number(row['term']),
    data: String(row['data']),
    remainingMs: Number(row['remaining_ms']),
  };
}
