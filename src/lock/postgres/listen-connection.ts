/**
 * The store's one dedicated `LISTEN` connection, seen by
 * `ChannelSubscriptions` as a pub/sub connection.
 *
 * Contract:
 * - Connects lazily on the first `subscribe`. `subscribe(channel)` resolves
 *   once the server has run `LISTEN` and recorded this backend as a watcher
 *   of the channel (so a release counts it from then on); it rejects if the
 *   connection is down and cannot be opened now.
 * - When the connection breaks it reconnects with backoff (100 ms doubling
 *   to 5 s, jittered) while any channel is subscribed, forgets watcher rows
 *   of backends that are gone, subscribes every channel again, and then
 *   emits a `reconnected` message on every channel, because notifications
 *   sent while it was down are lost: the store re-reads those names.
 * - A connection that dies silently (a host gone, a fail-over away from
 *   it) is found by a heartbeat: while any channel is subscribed, `SELECT 1`
 *   every 10 s must answer within 5 s, or the connection is treated as
 *   broken. Opening a connection is bounded the same way (10 s), and TCP
 *   keepalive starts after 10 s.
 * - Every statement on the connection (LISTEN and UNLISTEN, the watcher
 *   rows, the re-subscription after a reconnect, the heartbeat) runs one at a
 *   time, in call order: an unsubscribe made during a reconnect is applied
 *   after that reconnect's LISTEN, never before it.
 * - `disconnect()` ends the connection and every retry; nothing is left
 *   running. Errors are reported on `error` and never thrown from timers.
 */
import type { SubscriberConnection } from '../channel-subscriptions.js';
import type { PgConnectionConfig, PgListenClient } from './pg-types.js';

export interface ListenStatements {
  /** Registers the current backend as a watcher of `$1`. */
  readonly watch: string;
  readonly unwatch: string;
  /** Removes watcher rows of backends that are gone. */
  readonly prune: string;
}

/** Payload emitted on every channel after a reconnect. */
export const RECONNECTED = 'reconnected';

const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
const HEARTBEAT_MS = 10_000;
const HEARTBEAT_TIMEOUT_MS = 5000;
const QUEUE_STEP_MS = HEARTBEAT_TIMEOUT_MS + 1000;

type MessageListener = (channel: string, message: string) => void;
type ErrorListener = (error: Error) => void;

export class ListenConnection implements SubscriberConnection {
  readonly #create: () => PgListenClient;
  readonly #statements: ListenStatements;
  readonly #channels = new Set<string>();
  readonly #messageListeners: MessageListener[] = [];
  readonly #errorListeners: ErrorListener[] = [];
  #client: PgListenClient | undefined;
  /** The connection being opened (first time or after a break). */
  #connecting: Promise<PgListenClient> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = MIN_RETRY_MS;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** The tail of the one-at-a-time queue of statements on the connection. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    Client: new (config: PgConnectionConfig) => PgListenClient,
    config: PgConnectionConfig,
    statements: ListenStatements,
  ) {
    this.#create = () =>
      new Client({
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        connectionTimeoutMillis: 10_000,
        ...config,
      });
    this.#statements = statements;
  }

  async subscribe(channel: string): Promise<void> {
    this.#channels.add(channel);
    try {
      await this.#serial(async () => {
        const client = await this.#connected();
        if (this.#channels.has(channel)) await this.#listen(client, channel);
      });
    } catch (error) {
      this.#channels.delete(channel);
      throw error;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#channels.delete(channel);
    await this.#serial(async () => {
      const client = this.#client;
      if (!client || this.#channels.has(channel)) return; // subscribed again meanwhile
      await client.query(`UNLISTEN ${quoteChannel(channel)}`);
      await client.query({ text: this.#statements.unwatch, values: [channel] });
    });
  }

  /**
   * Runs `fn` after every statement queued before it, whatever their outcome.
   * The queue waits for one at most QUEUE_STEP_MS: a statement hung on a dead
   * connection (which the heartbeat is about to replace) must not hold up the
   * reconnect queued behind it.
   */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = new Promise<void>((resolve) => {
      const step = setTimeout(resolve, QUEUE_STEP_MS);
      step.unref?.();
      run.then(
        () => resolve(),
        () => resolve(),
      );
      void run.finally(() => clearTimeout(step)).catch(() => undefined);
    });
    return run;
  }

  on(event: 'message', listener: MessageListener): this;
  on(event: 'error', listener: ErrorListener): this;
  on(event: 'message' | 'error', listener: MessageListener | ErrorListener): this {
    if (event === 'message') this.#messageListeners.push(listener as MessageListener);
    else this.#errorListeners.push(listener as ErrorListener);
    return this;
  }

  disconnect(): void {
    this.#closed = true;
    this.#channels.clear();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#stopHeartbeat();
    const client = this.#client;
    this.#client = undefined;
    client?.end().catch(() => undefined);
    // A connection still being opened is ended when it arrives (#open checks #closed).
  }

  #connected(): Promise<PgListenClient> {
    if (this.#closed) return Promise.reject(new Error('LISTEN connection closed'));
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #open(): Promise<PgListenClient> {
    const client = this.#create();
    // Before connect(): a failed connect also emits 'error' on some versions.
    client.on('error', (error) => this.#broken(client, error));
    client.on('end', () => this.#broken(client, new Error('LISTEN connection ended')));
    client.on('notification', ({ channel, payload }) => this.#emit(channel, payload ?? ''));
    await client.connect();
    if (this.#closed) {
      client.end().catch(() => undefined);
      throw new Error('LISTEN connection closed');
    }
    this.#client = client;
    this.#startHeartbeat(client);
    return client;
  }

  #startHeartbeat(client: PgListenClient): void {
    this.#stopHeartbeat();
    this.#heartbeat = setInterval(() => {
      if (this.#client !== client || this.#channels.size === 0) return;
      void this.#serial(async () => {
        if (this.#client !== client) return;
        let answered = false;
        const timer = setTimeout(() => {
          if (!answered) this.#broken(client, new Error('LISTEN connection: heartbeat unanswered'));
        }, HEARTBEAT_TIMEOUT_MS);
        timer.unref?.();
        try {
          await client.query('SELECT 1');
          answered = true;
        } catch {
          // a broken connection also emits 'error' or 'end'
        } finally {
          clearTimeout(timer);
        }
      });
    }, HEARTBEAT_MS);
    this.#heartbeat.unref?.();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  async #listen(client: PgListenClient, channel: string): Promise<void> {
    await client.query(`LISTEN ${quoteChannel(channel)}`);
    await client.query({ text: this.#statements.watch, values: [channel] });
  }

  #broken(client: PgListenClient, error: Error): void {
    if (this.#client !== client) return; // a connection we already gave up on
    this.#client = undefined;
    this.#stopHeartbeat();
    client.end().catch(() => undefined);
    if (!this.#closed) this.#report(error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retryTimer || this.#channels.size === 0) return;
    const delay = this.#retryMs * (0.5 + Math.random() / 2);
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#reconnect();
    }, delay);
    this.#retryTimer.unref?.();
  }

  async #reconnect(): Promise<void> {
    try {
      await this.#serial(async () => {
        const client = await this.#connected();
        await client.query(this.#statements.prune);
        for (const channel of [...this.#channels])
          if (this.#channels.has(channel)) await this.#listen(client, channel);
      });
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
      const current = this.#client;
      if (current)
        this.#broken(current, new Error('LISTEN connection reset after a failed re-subscribe'));
      else this.#scheduleReconnect();
      return;
    }
    this.#retryMs = MIN_RETRY_MS;
    for (const channel of [...this.#channels]) this.#emit(channel, RECONNECTED);
  }

  #emit(channel: string, message: string): void {
    for (const listener of this.#messageListeners) {
      try {
        listener(channel, message);
      } catch {
        // ChannelSubscriptions isolates its own listeners; nothing may escape a socket callback.
      }
    }
  }

  #report(error: Error): void {
    for (const listener of this.#errorListeners) {
      try {
        listener(error);
      } catch {
        // As above.
      }
    }
  }
}

/** Channels are `tenure_<hex>`: safe to quote as an identifier. */
export function quoteChannel(channel: string): string {
  if (!/^[a-z0-9_]+$/.test(channel)) throw new Error(`invalid channel ${channel}`);
  return `"${channel}"`;
}
