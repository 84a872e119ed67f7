/**
 * Writes confirmed by `WAIT`, on a connection of their own (standalone and
 * Sentinel clients; see `RedisLeaseStore`'s `waitReplicas`).
 *
 * `WAIT` blocks the connection it is sent on until the replicas acknowledge
 * that connection's latest write, or the timeout passes: sent on the caller's
 * client, every other command behind it waited too, and 64 concurrent
 * acquisitions ran one replica acknowledgement after another. Here:
 *
 * - the scripts go to a `duplicate()` of the caller's client, opened on the
 *   first write and closed by `close()`: the caller's connection is never
 *   blocked;
 * - one batch is on the connection at a time: the scripts submitted while it
 *   is on its way go together in the next one, as
 *   `EVALSHA …, EVALSHA …, …, WAIT n timeout` in one round trip. One `WAIT`
 *   confirms every script of its batch, as it waits for the connection's
 *   latest write offset, which is at or after each of them (Redis runs a
 *   connection's commands in order).
 *
 * The connection follows the caller's client to the database it is on (a
 * `SELECT` made after the store was created): a `SELECT` heads each batch
 * while the two differ.
 *
 * Contract of `run`: resolves with the script's reply and what `WAIT` said
 * (`acks`, or `waitError` when `WAIT` itself failed: never read as "0
 * replicas"); rejects with the script's error reply (a script the server's
 * cache lost is resent with `EVAL` in the next batch, once) or with the
 * connection's failure. The caller classifies both.
 */
import type { Script } from './script-runner.js';
import { type GuardableClient, guardSentinelClient } from './sentinel-guard.js';

/** What the batches need of the duplicated ioredis connection. */
export interface WaitConnection {
  readonly status?: string;
  pipeline(commands: unknown[][]): { exec(): Promise<[Error | null, unknown][] | null> };
  on(event: 'error', listener: (error: Error) => void): unknown;
  once?(event: 'ready' | 'end', listener: () => void): unknown;
  disconnect(): void;
}

export interface WaitBatchesOptions {
  /**
   * Opens the connection (a `duplicate()` of the caller's client) on database
   * `db` (undefined: the client's configured one).
   */
  readonly open: (db: number | undefined) => WaitConnection;
  /**
   * The database the caller's client is on (a `SELECT` after it was created
   * moves it; read while it is ready, as a reconnecting ioredis client reports
   * its configured one until it has selected again): every batch goes to that
   * one, so acquisitions and the caller's own reads and releases always meet
   * on the same keys.
   */
  readonly database: () => number | undefined;
  /** How long the first batch waits for the connection to be ready (ioredis `connectTimeout`). */
  readonly connectTimeoutMs: number;
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  /** The Sentinel guard reconnected the connection (see sentinel-guard.ts). */
  readonly onRevive: () => void;
  /** A script was resent with EVAL after NOSCRIPT. */
  readonly onReload: () => void;
  /**
   * Follows a write whose batch did not run it where its key lives (a
   * Cluster's `MOVED` or `ASK`, or a batch ioredis refused because the slot
   * map changed): the write's outcome by another path, or `undefined` to
   * reject it with `error`.
   */
  readonly redirected?: (
    error: Error,
    script: Script,
    args: readonly (string | number)[],
    what: string,
  ) => Promise<WaitedReply> | undefined;
}

/** A script's reply and what the `WAIT` after it said. */
export interface WaitedReply {
  readonly reply: unknown;
  readonly acks: number;
  /** `WAIT` failed (ACL without `+wait`, a proxy without it): the raw error. */
  readonly waitError?: Error;
}

/** Writes confirmed by `WAIT` on a connection of the store's own (this file, cluster-waits.ts). */
export interface ConfirmedWrites {
  /** `what` names the operation and key in errors it makes itself. */
  run(script: Script, args: (string | number)[], what: string): Promise<WaitedReply>;
  close(): void;
}

interface Pending {
  readonly script: Script;
  readonly args: readonly (string | number)[];
  /** Names the operation and key in errors made elsewhere (see `redirected`). */
  readonly what: string;
  /** Sent with EVAL: the server's script cache had lost it. */
  reload: boolean;
  readonly resolve: (value: WaitedReply) => void;
  readonly reject: (error: unknown) => void;
}

/** At most this many scripts in one batch; the rest wait for the next. */
const MAX_BATCH = 512;

export class WaitBatches implements ConfirmedWrites {
  readonly #options: WaitBatchesOptions;
  #connection: WaitConnection | undefined;
  /** The database the connection was opened on (its own after a reconnect). */
  #openedDb: number | undefined;
  /** Settles when the connection was first ready (or the wait for it is over). */
  #opened: Promise<void> | undefined;
  #unguard: (() => void) | undefined;
  #queue: Pending[] = [];
  /**
   * The batch on the wire. One per connection: a second would wait behind the
   * first's `WAIT` on the server anyway (a blocked connection's commands are
   * not read); two connections overlap, see {@link waitPool}.
   */
  #inFlight: Pending[] | undefined;
  #closed = false;

  constructor(options: WaitBatchesOptions) {
    this.#options = options;
  }

  /** Scripts queued or on the wire: how busy this connection is. */
  get load(): number {
    return this.#queue.length + (this.#inFlight?.length ?? 0);
  }

  run(script: Script, args: readonly (string | number)[], what = ''): Promise<WaitedReply> {
    if (this.#closed) return Promise.reject(new Error('Connection is closed.'));
    return new Promise<WaitedReply>((resolve, reject) => {
      this.#queue.push({ script, args, what, reload: false, resolve, reject });
      if (!this.#inFlight) this.#send();
    });
  }

  /**
   * Closes the connection; scripts not yet answered fail (ioredis does not
   * fail what it queued while reconnecting when disconnected then).
   */
  close(): void {
    this.#closed = true;
    this.#unguard?.();
    this.#connection?.disconnect();
    this.#connection = undefined;
    const left = [...(this.#inFlight ?? []), ...this.#queue];
    this.#inFlight = undefined;
    this.#queue = [];
    for (const p of left) p.reject(new Error('Connection is closed.'));
  }

  #connect(): WaitConnection {
    if (this.#connection?.status === 'end') {
      // Ended for good (its client's retries ran out): a new one, as the caller's client
      // would be used again once the application reconnects it.
      this.#unguard?.();
      this.#connection.disconnect();
      this.#connection = undefined;
    }
    if (!this.#connection) {
      this.#openedDb = this.#options.database();
      const connection = this.#options.open(this.#openedDb);
      // The first batch waits for the connection (bounded): a client without an offline
      // queue would fail it at once, which the caller's own connection, ready, does not.
      this.#opened = new Promise<void>((resolve) => {
        if (connection.status === 'ready' || !connection.once) return resolve();
        const timer = setTimeout(resolve, this.#options.connectTimeoutMs);
        timer.unref?.();
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        connection.once('ready', done);
        connection.once('end', done);
      });
      // Its errors reach the callers as rejections; ioredis would print the event otherwise.
      connection.on('error', () => undefined);
      this.#unguard = guardSentinelClient(
        connection as unknown as GuardableClient,
        this.#options.onRevive,
      );
      this.#connection = connection;
    }
    return this.#connection;
  }

  /** Sends the queued scripts as one batch, then the next batch when it is answered. */
  #send(): void {
    if (this.#queue.length === 0 || this.#closed) return;
    const batch = this.#queue.splice(0, MAX_BATCH);
    let connection: WaitConnection;
    try {
      connection = this.#connect();
    } catch (error) {
      for (const p of [...batch, ...this.#queue.splice(0)]) p.reject(error);
      return;
    }
    this.#inFlight = batch;
    const sent = (this.#opened ?? Promise.resolve()).then(() => {
      if (this.#closed) throw new Error('Connection is closed.');
      const commands: unknown[][] = batch.map((p) =>
        p.reload
          ? ['eval', p.script.source, p.script.numKeys, ...p.args]
          : ['evalsha', p.script.sha, p.script.numKeys, ...p.args],
      );
      commands.push(['wait', this.#options.waitReplicas, this.#options.waitTimeoutMs]);
      // The caller's database, if it moved since the connection was opened: SELECT at the
      // head of the same pipeline, every batch (a reconnect puts the connection back on the
      // database it was opened on, and ioredis replays queued commands there).
      const db = this.#options.database();
      if (db === undefined || db === this.#openedDb) return connection.pipeline(commands).exec();
      return connection
        .pipeline([['select', db], ...commands])
        .exec()
        .then((results) => {
          const [selected, ...rest] = results ?? [];
          // Not on the caller's database: nothing of this batch is counted.
          if (selected?.[0]) throw selected[0];
          return rest;
        });
    });
    sent
      .then(
        (results) => this.#settle(batch, results ?? []),
        (error: unknown) => {
          for (const p of batch) this.#fail(p, error);
        },
      )
      .finally(() => {
        if (this.#inFlight === batch) this.#inFlight = undefined;
        this.#send();
      });
  }

  #settle(batch: Pending[], results: [Error | null, unknown][]): void {
    const [waitError, acks] = results[batch.length] ?? [new Error('Connection is closed.'), null];
    const reloads: Pending[] = [];
    batch.forEach((p, i) => {
      const [error, reply] = results[i] ?? [new Error('Connection is closed.'), null];
      if (error) {
        if (!p.reload && error.message.startsWith('NOSCRIPT')) {
          // Not run: sent again with its source, ahead of anything queued since.
          this.#options.onReload();
          p.reload = true;
          reloads.push(p);
        } else this.#fail(p, error);
      } else if (waitError) p.resolve({ reply, acks: 0, waitError });
      else if (typeof acks === 'number' && Number.isInteger(acks)) p.resolve({ reply, acks });
      else
        p.resolve({
          reply,
          acks: 0,
          waitError: new Error(`Unexpected WAIT reply: ${String(acks)}`),
        });
    });
    if (reloads.length === 0) return;
    if (this.#closed) for (const p of reloads) p.reject(new Error('Connection is closed.'));
    else this.#queue.unshift(...reloads);
  }

  /** Rejects `p` with `error`, unless `redirected` follows it elsewhere. */
  #fail(p: Pending, error: unknown): void {
    const followed =
      error instanceof Error && !this.#closed
        ? this.#options.redirected?.(error, p.script, p.args, p.what)
        : undefined;
    if (followed) followed.then(p.resolve, p.reject);
    else p.reject(error);
  }
}

/**
 * `size` connections of batches, each write sent on the least busy: while one
 * connection's `WAIT` blocks, another runs its scripts, and the replicas'
 * acknowledgement that unblocks one often covers the other's too. Measured
 * (64 concurrent, one replica, this machine): one connection kept 0.5–0.65
 * of the throughput without `waitReplicas`, two 0.7–0.9, four no better.
 */
export function waitPool(size: number, make: () => WaitBatches): ConfirmedWrites {
  const all = Array.from({ length: size }, make);
  return {
    run(script, args, what) {
      let best = all[0] as WaitBatches;
      for (const batches of all) if (batches.load < best.load) best = batches;
      return best.run(script, args, what);
    },
    close() {
      for (const batches of all) batches.close();
    },
  };
}
