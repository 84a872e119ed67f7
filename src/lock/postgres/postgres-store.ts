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
import {
  ConfigurationError,
  StoreClosedError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  type TenureError,
} from '../../errors.js';
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
import { diagnosePostgres } from './diagnose.js';
import { HandBacks } from './hand-back.js';
import { ListenConnection, RECONNECTED } from './listen-connection.js';
import { channelName, decodeNotification } from './notifications.js';
import { type PostgresLeaseStoreOptions, postgresStoreSettings } from './options.js';
import type { PgConnectionConfig, PgPoolLike } from './pg-types.js';
import { acquireResultOf, holderOf, type LeaseRecord, leaseRecordOf } from './rows.js';
import { NotSentError, runStatement } from './run-statement.js';
import {
  checkComment,
  SCHEMA_STATE,
  schemaMissing,
  type SchemaState,
  schemaStateOf,
  schemaStateValues,
} from './schema-check.js';
import { statementName } from './statement-name.js';
import type { Statements } from './statements.js';

export type { PostgresLeaseStoreOptions } from './options.js';
export type { LeaseRecord } from './rows.js';

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
  /** Acquisitions that timed out, handed back if they apply late. */
  readonly #handBacks: HandBacks;
  #closed = false;

  constructor(options: PostgresLeaseStoreOptions) {
    const settings = postgresStoreSettings(options);
    this.#pool = settings.pool;
    this.#sql = settings.sql;
    this.#handoffMs = settings.handoffMs;
    this.#keepData = settings.keepData;
    this.#timeoutMs = settings.timeoutMs;
    this.#prepared = settings.prepared;
    this.#listen = settings.listen;
    const { Client, listen: config, sql } = settings;
    if (Client && config !== false) {
      this.#subscriptions = new ChannelSubscriptions(
        () => new ListenConnection(Client, config, sql),
      );
    }
    this.#handBacks = new HandBacks((lease) =>
      runStatement(
        this.#pool,
        'release',
        this.#sql.release,
        this.#releaseValues(lease),
        this.#timeoutMs,
        { name: this.#prepared ? statementName('release', this.#sql.release) : undefined },
      ),
    );
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
      checkComment(this.#sql, found.comment);
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
      const locked = await client.query({
        text: SCHEMA_STATE,
        values: schemaStateValues(this.#sql),
      });
      const row = locked.rows[0] ?? {};
      if (row['table'] === true) checkComment(this.#sql, row['comment']);
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

  async #schemaState(): Promise<SchemaState> {
    const rows = await runStatement(
      this.#pool,
      'schema check',
      SCHEMA_STATE,
      schemaStateValues(this.#sql),
      this.#timeoutMs,
    ).catch((error: unknown) => {
      throw this.#classify(error, 'schema check', '');
    });
    return schemaStateOf(rows[0] ?? {});
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const row = await this.#one('acquire', request.name, this.#sql.acquire, [
      request.name,
      request.token.reveal(),
      request.identity,
      request.data,
      request.ttlMs,
      request.waiting === true,
      channelName(this.#sql.table, request.name),
    ]).catch((error: unknown) => {
      // Timed out: the statement may still apply later (a stalled server runs it when it
      // resumes). Nobody will use that grant: hand it back if it shows up.
      if (error instanceof StoreTimeoutError) this.#handBacks.add(request);
      throw error;
    });
    if (!row) throw this.#classify(new Error('acquire returned no row'), 'acquire', request.name);
    return acquireResultOf(row);
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
      channelName(this.#sql.table, lease.name),
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
      channelName(this.#sql.table, lease.name),
    ];
  }

  async read(name: string): Promise<LeaseHolder | null> {
    const row = await this.#one('read', name, this.#sql.read, [name]);
    return row ? holderOf(row) : null;
  }

  async list(prefix: string): Promise<ListedLease[]> {
    const rows = await this.#rows('list', prefix, this.#sql.list, [prefix]);
    return rows
      .map((row) => ({ name: String(row['name']), ...holderOf(row) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The name's row whether held or not (pglock's `GetLock`): the latest
   * identity and term, and the data (after release only with
   * `keepDataOnRelease`). `null` if the name was never acquired.
   */
  async inspect(name: string): Promise<LeaseRecord | null> {
    const row = await this.#one('inspect', name, this.#sql.inspect, [name]);
    return row ? leaseRecordOf(row) : null;
  }

  async subscribe(
    name: string,
    listener: (event: LeaseEvent, detail?: LeaseEventDetail) => void,
  ): Promise<Unsubscribe> {
    this.#assertOpen();
    const subscriptions = this.#subscriptions;
    if (!subscriptions) return () => undefined; // listen: false: callers wake at expiry
    await this.#ensureSchema();
    const channel = channelName(this.#sql.table, name);
    try {
      return await subscriptions.add(channel, (message) => {
        if (message === RECONNECTED) {
          // Notifications sent while disconnected are lost: re-read and report the state now.
          this.read(name).then(
            (holder) => listener(holder ? 'acquired' : 'released'),
            () => listener('released'),
          );
          return;
        }
        const event = decodeNotification(message);
        if (event) listener(...event);
      });
    } catch (error) {
      throw this.#classify(error, 'subscribe', name);
    }
  }

  diagnose(): Promise<string[]> {
    return diagnosePostgres(this.#listen !== false, (text) => this.#rows('diagnose', '', text, []));
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#handBacks.close();
    this.#subscriptions?.close();
    return Promise.resolve();
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
      if (!found.table || !found.watchers) throw schemaMissing(this.#sql);
      checkComment(this.#sql, found.comment);
    })().catch((error: unknown) => {
      this.#schemaChecked = undefined;
      throw error;
    });
    return this.#schemaChecked;
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
