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
  pipeline(commands: unknown[][]): { exec(): Promise<[Error | null, unknown][] | null> };
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

export interface WaitBatchesOptions {
  /** Opens the connection (a `duplicate()` of the caller's client). */
  readonly open: () => WaitConnection;
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  /** The Sentinel guard reconnected the connection (see sentinel-guard.ts). */
  readonly onRevive: () => void;
  /** A script was resent with EVAL after NOSCRIPT. */
  readonly onReload: () => void;
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
  #unguard: (() => void) | undefined;
  #queue: Pending[] = [];
  #sending = false;
  #closed = false;

  constructor(options: WaitBatchesOptions) {
    this.#options = options;
  }

  run(script: Script, args: readonly (string | number)[]): Promise<WaitedReply> {
    if (this.#closed) return Promise.reject(new Error('Connection is closed.'));
    return new Promise<WaitedReply>((resolve, reject) => {
      this.#queue.push({ script, args, reload: false, resolve, reject });
      if (!this.#sending) this.#send();
    });
  }

  /** Closes the connection; scripts not yet answered fail with its error. */
  close(): void {
    this.#closed = true;
    this.#unguard?.();
    this.#connection?.disconnect();
    this.#connection = undefined;
    const left = this.#queue;
    this.#queue = [];
    for (const p of left) p.reject(new Error('Connection is closed.'));
  }

  #connect(): WaitConnection {
    if (!this.#connection) {
      const connection = this.#options.open();
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
    if (this.#queue.length === 0 || this.#closed) {
      this.#sending = false;
      return;
    }
    this.#sending = true;
    const batch = this.#queue.splice(0, MAX_BATCH);
    const commands: unknown[][] = batch.map((p) =>
      p.reload
        ? ['eval', p.script.source, p.script.numKeys, ...p.args]
        : ['evalsha', p.script.sha, p.script.numKeys, ...p.args],
    );
    commands.push(['wait', this.#options.waitReplicas, this.#options.waitTimeoutMs]);
    let sent: Promise<[Error | null, unknown][] | null>;
    try {
      sent = this.#connect().pipeline(commands).exec();
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent
      .then(
        (results) => this.#settle(batch, results ?? []),
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => this.#send());
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
        } else p.reject(error);
      } else if (waitError) p.resolve({ reply, acks: 0, waitError });
      else if (typeof acks === 'number' && Number.isInteger(acks)) p.resolve({ reply, acks });
      else
        p.resolve({
          reply,
          acks: 0,
          waitError: new Error(`Unexpected WAIT reply: ${String(acks)}`),
        });
    });
    if (reloads.length > 0) this.#queue.unshift(...reloads);
  }
}
