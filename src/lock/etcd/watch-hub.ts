/**
 * One etcd watch stream per store, carrying a watch per subscribed name.
 *
 * Contract:
 * - `add()` resolves once the server confirmed the watch (`created`), and
 *   rejects with a `StoreUnavailableError` if the stream fails first; the
 *   caller (see `WakeSubscription`) then retries with its own backoff.
 * - Once confirmed, a watch survives stream failures: the hub reconnects
 *   with backoff (100 ms doubling to 1 s) and re-creates it from the first
 *   revision it has not seen, so no event is skipped. If that revision was
 *   compacted meanwhile, it re-reads the key (linearizable) and reports the
 *   difference (`released` when the incarnation it knew is gone, `acquired`
 *   when a new one exists), then watches from after that read.
 * - A stream that stops answering (a stopped member keeps its TCP
 *   connection) is detected by a progress request every `heartbeatMs`: no
 *   reply within `heartbeatMs` and the stream is cancelled and reconnected,
 *   probably to another member.
 * - Events: a put that creates the key is `acquired`, any later put of the
 *   same incarnation is `updated` (leader data), a delete (release, lease
 *   expiry, an operator) is `released`. No subscriber count is known.
 * - Listener failures are isolated; timers are unref'd; `close()` ends the
 *   stream and every timer.
 */
import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import { StoreClosedError, StoreUnavailableError } from '../../errors.js';
import { classifyEtcdError } from './classify-error.js';
import type { LeaseEvent, LeaseEventDetail, Unsubscribe } from '../lease-store.js';

export type WatchListener = (event: LeaseEvent, detail?: LeaseEventDetail) => void;

/** What the hub needs from the store: a stream, and a fresh read of one key. */
export interface WatchSource {
  openStream(): Promise<IDuplexStream<IWatchRequest, IWatchResponse>>;
  /** The key's create and mod revisions now (0 when absent) and the revision of the read. */
  readKey(
    key: Buffer,
  ): Promise<{ readonly created: number; readonly modified: number; readonly revision: number }>;
}

interface Watch {
  readonly key: Buffer;
  readonly listeners: Set<WatchListener>;
  /** Server-side id on the current stream, once created. */
  id: string | undefined;
  /** First revision not yet seen; 0 until the first creation answered. */
  next: number;
  /** Create revision of the incarnation last seen (0: vacant, undefined: unknown). */
  created: number | undefined;
  /** Mod revision of the last event or read (to tell a data update after a re-read). */
  modified: number | undefined;
  /** A re-read is in flight; it creates the watch again when done. */
  reconciling: boolean;
  /** Backoff before re-creating a watch etcd cancelled (not the stream's). */
  retryMs: number;
  /** Confirmed at least once: kept across stream failures. */
  confirmed: boolean;
  waiters: { resolve(): void; reject(error: unknown): void }[];
}

/**
 * Reconnect backoff cap. Short on purpose: while the stream is down, waiters
 * and followers wait for events it will deliver (a holder's expiry is one),
 * so a long backoff after an outage would delay every take-over by as much.
 */
const MAX_BACKOFF_MS = 1000;
/** Not a release: notifications stopped for a while, so the name may have changed unseen. */
const INTERRUPTED: LeaseEventDetail = Object.freeze({ interrupted: true });

export class WatchHub {
  readonly #source: WatchSource;
  readonly #heartbeatMs: number;
  readonly #watches = new Map<string, Watch>();
  /** Watches whose create request is in flight, in the order sent (etcd answers in order). */
  #creating: Watch[] = [];
  #stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  #opening: Promise<void> | undefined;
  #backoffMs = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  readonly #retries = new Set<NodeJS.Timeout>();
  #awaitingReply = false;
  #closed = false;

  constructor(source: WatchSource, heartbeatMs: number) {
    this.#source = source;
    this.#heartbeatMs = heartbeatMs;
  }

  async add(key: Buffer, listener: WatchListener): Promise<Unsubscribe> {
    if (this.#closed) throw new StoreClosedError();
    const id = key.toString('hex');
    let watch = this.#watches.get(id);
    if (!watch) {
      watch = {
        key,
        listeners: new Set(),
        id: undefined,
        next: 0,
        created: undefined,
        modified: undefined,
        reconciling: false,
        retryMs: 0,
        confirmed: false,
        waiters: [],
      };
      this.#watches.set(id, watch);
    }
    const entry: WatchListener = (event, detail) => listener(event, detail);
    watch.listeners.add(entry);
    const unsubscribe = (): void => this.#remove(id, entry);
    // A confirmed watch resumes without a gap after a reconnect: it counts as active meanwhile.
    if (watch.id !== undefined || watch.confirmed) return unsubscribe;
    const w = watch;
    const confirmed = new Promise<void>((resolve, reject) => w.waiters.push({ resolve, reject }));
    if (!this.#stream) this.#ensureStream();
    else if (!this.#creating.includes(w)) this.#create(w);
    try {
      await confirmed;
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#heartbeatTimer);
    for (const retry of this.#retries) clearTimeout(retry);
    this.#retries.clear();
    const closed = new StoreClosedError();
    for (const watch of this.#watches.values()) this.#settle(watch, closed);
    this.#watches.clear();
    this.#dropStream();
  }

  #remove(id: string, entry: WatchListener): void {
    const watch = this.#watches.get(id);
    if (!watch?.listeners.delete(entry) || watch.listeners.size > 0) return;
    this.#watches.delete(id);
    if (watch.id !== undefined) this.#write({ cancel_request: { watch_id: watch.id } });
    if (this.#watches.size === 0) {
      clearTimeout(this.#heartbeatTimer);
      this.#heartbeatTimer = undefined;
    }
  }

  #ensureStream(): void {
    if (this.#stream || this.#opening || this.#closed || this.#reconnectTimer) return;
    this.#opening = this.#open().finally(() => (this.#opening = undefined));
  }

  async #open(): Promise<void> {
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      stream = await this.#source.openStream();
    } catch (error) {
      this.#failed(error);
      return;
    }
    if (this.#closed) {
      stream.cancel();
      return;
    }
    this.#stream = stream;
    stream.on('data', (response) => {
      if (this.#stream === stream) this.#receive(response);
    });
    const broken = (error?: Error): void => {
      if (this.#stream === stream) this.#failed(error ?? new Error('watch stream ended'));
    };
    stream.on('error', broken);
    stream.on('end', () => broken());
    for (const watch of this.#watches.values()) if (!watch.reconciling) this.#create(watch);
    this.#armHeartbeat();
  }

  #create(watch: Watch): void {
    this.#creating.push(watch);
    if (this.#heartbeatTimer === undefined) this.#armHeartbeat();
    this.#write({
      create_request: {
        key: watch.key,
        ...(watch.next > 0 ? { start_revision: String(watch.next) } : {}),
      },
    });
  }

  #write(request: IWatchRequest): void {
    try {
      this.#stream?.write(request);
    } catch (error) {
      this.#failed(error);
    }
  }

  #receive(response: IWatchResponse): void {
    this.#awaitingReply = false;
    if (response.created) {
      const watch = this.#creating.shift();
      if (!watch) return;
      if (this.#watches.get(watch.key.toString('hex')) !== watch) {
        // Unsubscribed while the create was in flight (perhaps subscribed again since: a new watch).
        if (!response.canceled) this.#write({ cancel_request: { watch_id: response.watch_id } });
        return;
      }
      if (response.canceled) {
        this.#refused(watch, response.cancel_reason);
        return;
      }
      this.#backoffMs = 0;
      watch.id = response.watch_id;
      const current = Number(response.header.revision);
      if (watch.next === 0) watch.next = current + 1;
      else if (watch.next > current + 1) {
        // The cluster's history went back (a restore from a snapshot): events from `next` would
        // only start once the revision catches up. Stop this watch and start again from a read.
        this.#write({ cancel_request: { watch_id: response.watch_id } });
        watch.id = undefined;
        this.#settle(watch);
        void this.#reconcile(watch);
        return;
      }
    }
    const watch = this.#byId(response.watch_id);
    if (!watch) return;
    for (const event of response.events ?? []) {
      const created = Number(event.kv.create_revision);
      watch.next = Number(event.kv.mod_revision) + 1;
      watch.modified = Number(event.kv.mod_revision);
      if (event.type === 'Delete') {
        watch.created = 0;
        this.#emit(watch, 'released');
      } else {
        const fresh = created === Number(event.kv.mod_revision);
        watch.created = created;
        this.#emit(watch, fresh ? 'acquired' : 'updated');
      }
    }
    if (response.created) this.#settle(watch);
    if (response.canceled) {
      watch.id = undefined;
      if (Number(response.compact_revision ?? 0) > 0) void this.#reconcile(watch);
      else this.#refused(watch, response.cancel_reason);
    }
  }

  /**
   * etcd cancelled a watch for a reason other than compaction (permission
   * denied, most likely). A first subscription fails with the typed error;
   * an active one wakes its listeners (`interrupted`: re-read, and the read
   * reports the cause) and is created again after a backoff of its own.
   */
  #refused(watch: Watch, reason: string): void {
    watch.id = undefined;
    const error = classifyEtcdError(
      new Error(reason || 'etcd cancelled the watch, no reason given'),
      'subscribe',
      watch.key.toString('utf8'),
    );
    if (!watch.confirmed) {
      this.#settle(watch, error);
      this.#watches.delete(watch.key.toString('hex'));
      return;
    }
    this.#emit(watch, 'released', INTERRUPTED);
    watch.retryMs = Math.min(MAX_BACKOFF_MS, watch.retryMs === 0 ? 100 : watch.retryMs * 2);
    const retry = setTimeout(() => {
      this.#retries.delete(retry);
      if (this.#stream && this.#watches.get(watch.key.toString('hex')) === watch)
        this.#create(watch);
    }, watch.retryMs);
    retry.unref();
    this.#retries.add(retry);
  }

  /**
   * The watch cannot resume where it stopped (its revision was compacted, or
   * the history went back): re-read the key, report what changed since the
   * last event seen (a new incarnation, a vacancy, or new data of the same
   * one), and watch from after the read.
   */
  async #reconcile(watch: Watch): Promise<void> {
    watch.reconciling = true;
    try {
      const now = await this.#source.readKey(watch.key);
      watch.reconciling = false;
      const known = watch.created;
      watch.next = now.revision + 1;
      watch.created = now.created;
      const modified = watch.modified;
      watch.modified = now.modified;
      if (known === undefined) {
        this.#emit(watch, now.created === 0 ? 'released' : 'acquired');
      } else if (known !== now.created) {
        if (known !== 0) this.#emit(watch, 'released');
        if (now.created !== 0) this.#emit(watch, 'acquired');
      } else if (now.created !== 0 && modified !== now.modified) {
        this.#emit(watch, 'updated');
      }
      if (this.#stream && this.#watches.get(watch.key.toString('hex')) === watch)
        this.#create(watch);
    } catch (error) {
      watch.reconciling = false;
      this.#failed(error);
    }
  }

  #byId(id: string): Watch | undefined {
    for (const watch of this.#watches.values()) if (watch.id === id) return watch;
    return undefined;
  }

  #emit(watch: Watch, event: LeaseEvent, detail?: LeaseEventDetail): void {
    for (const listener of [...watch.listeners]) {
      try {
        listener(event, detail);
      } catch {
        // A listener's failure is its own (WakeSubscription isolates and reports user code).
      }
    }
  }

  #settle(watch: Watch, error?: unknown): void {
    const waiters = watch.waiters;
    watch.waiters = [];
    if (error === undefined) watch.confirmed = true;
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  /** The stream broke (or never opened): unconfirmed watches fail, confirmed ones wait for the reconnect. */
  #failed(cause: unknown): void {
    this.#dropStream();
    const error = new StoreUnavailableError('etcd watch stream failed', {
      cause,
      ambiguous: false,
    });
    for (const [id, watch] of this.#watches) {
      watch.id = undefined;
      if (!watch.confirmed) {
        this.#settle(watch, error);
        if (watch.listeners.size === 0) this.#watches.delete(id);
      } else {
        // Events are held back until the reconnect; wake the listeners to re-read meanwhile.
        this.#emit(watch, 'released', INTERRUPTED);
      }
    }
    if (this.#closed || this.#watches.size === 0) return;
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, this.#backoffMs === 0 ? 100 : this.#backoffMs * 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#watches.size > 0) this.#ensureStream();
    }, this.#backoffMs);
    this.#reconnectTimer.unref();
  }

  #dropStream(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#creating = [];
    this.#awaitingReply = false;
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    if (!stream) return;
    try {
      stream.cancel();
    } catch {
      // already gone
    }
  }

  /** A progress request every heartbeatMs; no answer to the previous one means the stream is dead. */
  #armHeartbeat(): void {
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = setTimeout(() => {
      this.#heartbeatTimer = undefined;
      if (!this.#stream || this.#watches.size === 0) return;
      if (this.#awaitingReply) {
        this.#failed(new Error(`no reply on the watch stream within ${this.#heartbeatMs} ms`));
        return;
      }
      this.#awaitingReply = true;
      this.#write({ progress_request: {} });
      this.#armHeartbeat();
    }, this.#heartbeatMs);
    this.#heartbeatTimer.unref();
  }
}
