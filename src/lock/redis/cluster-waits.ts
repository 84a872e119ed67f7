/**
 * Writes confirmed by `WAIT` on a Redis Cluster (see `RedisLeaseStore`'s
 * `waitReplicas`), on a `duplicate()` of the caller's Cluster client, opened
 * on the first write and closed by `close()`, so a `WAIT` that blocks a node
 * connection never blocks the caller's.
 *
 * Writes are batched per group of nodes serving their slot (the slot's
 * primary and replicas, by the client's slot map), as on a standalone
 * client (see wait-batches.ts): one batch on the wire per group, sent as
 * `EVALSHA …, EVALSHA …, WAIT n timeout` in one round trip, one `WAIT`
 * confirming all of them (ioredis pipelines a Cluster's commands whose slots
 * are served by the same nodes). A write whose batch did not run it where its
 * key lives (`MOVED`, `ASK`, or a batch ioredis refused because the slot map
 * changed meanwhile) is sent again alone, with its own `WAIT`, following the
 * redirection (`#write`); so is a write whose slot the map does not know yet.
 *
 * Contract of `run`: resolves with the script's reply and what `WAIT` said
 * (`acks`, or `waitError` when `WAIT` itself failed); rejects with the
 * script's error reply, a redirection it could not follow as
 * `StoreUnavailableError` (not applied: "not now"), or the connection's
 * failure. The caller classifies the rest.
 */
import { StoreUnavailableError } from '../../errors.js';
import type { ClusterNode, PipelineClient } from './client.js';
import { keySlot } from './key-slot.js';
import type { Script } from './script-runner.js';
import {
  type ConfirmedWrites,
  WaitBatches,
  type WaitConnection,
  type WaitedReply,
} from './wait-batches.js';

/** What the writes need of the duplicated ioredis `Cluster`. */
export interface ClusterWaitConnection extends PipelineClient {
  readonly status: string;
  readonly options?: { readonly keyPrefix?: string | undefined };
  /** The client's slot map: per slot, the addresses of its primary and replicas. */
  readonly slots?: readonly (readonly string[] | undefined)[];
  nodes(role: 'all'): ClusterNode[];
  refreshSlotsCache(callback?: (error?: Error | null) => void): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  once?(event: 'ready' | 'end', listener: () => void): unknown;
  disconnect(): void;
}

export interface ClusterWaitsOptions {
  /** Opens the connection (a `duplicate()` of the caller's Cluster client). */
  readonly open: () => ClusterWaitConnection;
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  /** How long the first batch waits for the connection to be ready. */
  readonly connectTimeoutMs: number;
  /** A script was resent with EVAL after NOSCRIPT. */
  readonly onReload: () => void;
}

/** A batch's failure that means "not run where the key lives": sent again alone. */
const REDIRECTED =
  /^(MOVED|ASK) |^All keys in the pipeline should belong to the same slots allocation group$/;

export class ClusterWaits implements ConfirmedWrites {
  readonly #options: ClusterWaitsOptions;
  #connection: ClusterWaitConnection | undefined;
  /** Rejects the writes not yet answered (see `close()`). */
  readonly #pending = new Set<(error: Error) => void>();
  /** The batches of each group of nodes (their addresses, joined), made on first use. */
  readonly #groups = new Map<string, WaitBatches>();
  #closed = false;

  constructor(options: ClusterWaitsOptions) {
    this.#options = options;
  }

  /** Closes the connection; writes not yet answered fail, whatever ioredis does with them. */
  close(): void {
    this.#closed = true;
    for (const batches of this.#groups.values()) batches.close();
    this.#groups.clear();
    this.#connection?.disconnect();
    this.#connection = undefined;
    for (const reject of [...this.#pending]) reject(new Error('Connection is closed.'));
    this.#pending.clear();
  }

  run(s: Script, args: (string | number)[], what: string): Promise<WaitedReply> {
    if (this.#closed) return Promise.reject(new Error('Connection is closed.'));
    const batches = this.#batchesFor(String(args[0]));
    if (batches) return batches.run(s, args, what);
    return this.#alone(s, args, what);
  }

  /** The batches of the nodes serving `key`'s slot; `undefined` while the slot map does not know it. */
  #batchesFor(key: string): WaitBatches | undefined {
    const client = this.#connect();
    const nodes = client.slots?.[keySlot(`${client.options?.keyPrefix ?? ''}${key}`)];
    // By primary: one batch per node connection that runs the scripts and their WAIT.
    const group = nodes?.[0];
    if (group === undefined) return undefined;
    let batches = this.#groups.get(group);
    if (!batches) {
      batches = new WaitBatches({
        open: () => this.#shared(),
        database: () => undefined,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        waitReplicas: this.#options.waitReplicas,
        waitTimeoutMs: this.#options.waitTimeoutMs,
        onRevive: () => undefined,
        onReload: this.#options.onReload,
        redirected: (error, script, sent, what) =>
          REDIRECTED.test(error.message) ? this.#alone(script, [...sent], what) : undefined,
      });
      this.#groups.set(group, batches);
    }
    return batches;
  }

  /**
   * The Cluster connection as one batches' connection: shared by every group
   * (closed by `close()`, reopened by `#connect()` once ended).
   */
  #shared(): WaitConnection {
    const connect = (): ClusterWaitConnection => this.#connect();
    return {
      get status() {
        return connect().status;
      },
      pipeline: (commands) => connect().pipeline(commands),
      on: () => undefined,
      once: (event, listener) => connect().once?.(event, listener),
      disconnect: () => undefined,
    };
  }

  /** One write with its own `WAIT`, following a redirection (see `#write`). */
  #alone(s: Script, args: (string | number)[], what: string): Promise<WaitedReply> {
    if (this.#closed) return Promise.reject(new Error('Connection is closed.'));
    return new Promise<WaitedReply>((resolve, reject) => {
      this.#pending.add(reject);
      this.#write(s, args, what)
        .then(resolve, reject)
        .finally(() => this.#pending.delete(reject));
    });
  }

  async #write(s: Script, args: (string | number)[], what: string): Promise<WaitedReply> {
    const client = this.#connect();
    const wait = ['wait', this.#options.waitReplicas, this.#options.waitTimeoutMs];
    let results: [Error | null, unknown][] = [];
    for (let redirects = 0; ; redirects++) {
      results = await this.#scriptThenWait(client, [], s, args, wait);
      // An ASK (the slot is migrating and the key has moved) is followed once on the node
      // it names: ASKING, then the same script and WAIT, whose replicas hold the key now.
      const asked = /^ASK \d+ (\S+)/.exec(results[0]?.[0]?.message ?? '')?.[1];
      const node = asked === undefined ? undefined : nodeAt(client, asked);
      if (node) {
        // A node's connection applies only its own `keyPrefix` (the Cluster's `redisOptions`),
        // not a Cluster-level one: that one the keys get here.
        const prefix = node.options?.keyPrefix ? '' : (client.options?.keyPrefix ?? '');
        const keyed = args.map((arg, i) => (i < s.numKeys ? `${prefix}${String(arg)}` : arg));
        results = await this.#scriptThenWait(node, [['asking']], s, keyed, wait);
        break;
      }
      // ioredis redirects a Cluster pipeline only when every command in it may be retried,
      // which WAIT is not: a MOVED (the slot's primary changed, as after a fail-over) comes
      // back as the script's answer, and the slot map stays stale. The script did not run
      // there: refresh the map and send the pipeline again.
      const moved = results[0]?.[0]?.message.startsWith('MOVED') === true;
      if (!moved || redirects >= 2) break;
      await new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
    }
    const [scriptError, reply] = results[0] ?? [new Error('Connection is closed.'), null];
    if (scriptError) {
      if (/^(MOVED|ASK) /.test(scriptError.message)) {
        // A slot in migration (ASK), or still moving: not applied; retried until the deadline.
        throw new StoreUnavailableError(
          `Redis Cluster redirected \`${what}\`: ${scriptError.message}`,
          { cause: scriptError, ambiguous: false },
        );
      }
      throw scriptError;
    }
    const [waitError, acks] = results[1] ?? [null, 0];
    if (waitError) return { reply, acks: 0, waitError };
    if (typeof acks === 'number' && Number.isInteger(acks)) return { reply, acks };
    return { reply, acks: 0, waitError: new Error(`Unexpected WAIT reply: ${String(acks)}`) };
  }

  #connect(): ClusterWaitConnection {
    if (this.#connection?.status === 'end') {
      // Ended for good (its retries ran out): a new one, as for a standalone client.
      this.#connection.disconnect();
      this.#connection = undefined;
    }
    if (!this.#connection) {
      const connection = this.#options.open();
      // Its errors reach the callers as rejections; ioredis would print the event otherwise.
      connection.on('error', () => undefined);
      this.#connection = connection;
    }
    return this.#connection;
  }

  /**
   * `prefix` (e.g. ASKING), the script (EVALSHA, EVAL on NOSCRIPT) and `wait`
   * in one pipeline on `target`; the replies after the prefix.
   */
  async #scriptThenWait(
    target: PipelineClient,
    prefix: unknown[][],
    s: Script,
    args: (string | number)[],
    wait: (string | number)[],
  ): Promise<[Error | null, unknown][]> {
    const send = async (command: unknown[]): Promise<[Error | null, unknown][]> =>
      ((await target.pipeline([...prefix, command, wait]).exec()) ?? []).slice(prefix.length);
    const results = await send(['evalsha', s.sha, s.numKeys, ...args]);
    if (!results[0]?.[0]?.message.startsWith('NOSCRIPT')) return results;
    this.#options.onReload();
    return send(['eval', s.source, s.numKeys, ...args]);
  }
}

/**
 * The node connection at `address` (`host:port` from an `ASK` answer), if the
 * client has one that pipelines; otherwise the `ASK` is reported as "not now"
 * and retried.
 */
function nodeAt(
  client: ClusterWaitConnection,
  address: string,
): (ClusterNode & PipelineClient) | undefined {
  const node = client.nodes('all').find((n) => `${n.options?.host}:${n.options?.port}` === address);
  return node?.pipeline ? (node as ClusterNode & PipelineClient) : undefined;
}
