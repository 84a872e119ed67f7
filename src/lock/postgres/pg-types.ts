/**
 * The slices of node-postgres (`pg`) the store uses, as structural types:
 * tenure never imports `pg` at run time (it uses the caller's pool and that
 * pool's own `Client` class), so the caller's copy and version of `pg` is
 * the one that runs.
 */

export interface PgQueryResult {
  readonly rows: Record<string, unknown>[];
}

export interface PgNotification {
  readonly channel: string;
  readonly payload?: string | undefined;
}

/** A connected client: a pooled one, or the store's own LISTEN connection. */
export interface PgClientLike {
  query(config: { text: string; values?: unknown[]; name?: string }): Promise<PgQueryResult>;
  query(text: string): Promise<PgQueryResult>;
  /** Backend pid and cancel key, for cancelling a statement that timed out. */
  readonly processID?: number | null;
  readonly secretKey?: number | null;
  readonly host?: string;
  readonly port?: number;
}

export interface PgPoolClientLike extends PgClientLike {
  /** Returns the client to the pool; with an error (or `true`) the pool discards it. */
  release(destroy?: boolean | Error): void;
  /** A checked-out client has no pool 'error' listener: without one, a broken connection would crash the process. */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  off?(event: 'error', listener: (error: Error) => void): unknown;
}

export interface PgListenClient extends PgClientLike {
  connect(): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', listener: (message: PgNotification) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

/** Connection settings for the LISTEN connection (a node-postgres `ClientConfig`). */
export type PgConnectionConfig = object;

/** A node-postgres `Pool` (or anything with the same `connect()`). */
export interface PgPoolLike {
  connect(): Promise<PgPoolClientLike>;
  /** The pool's connection settings: the default for the LISTEN connection. */
  readonly options?: PgConnectionConfig;
  /** The client class the pool creates (pg-pool sets it); used for the LISTEN connection. */
  readonly Client?: new (config: PgConnectionConfig) => PgListenClient;
}
