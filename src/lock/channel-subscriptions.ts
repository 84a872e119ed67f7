/**
 * One notification connection per store, opened lazily on the first
 * subscription and closed by the store: Redis pub/sub (a `duplicate()` of
 * the caller's ioredis client, so TLS, ACL user, password and Sentinel
 * settings carry over) or a PostgreSQL `LISTEN` connection. Both re-subscribe
 * after a reconnect; messages sent while disconnected are lost, which is why
 * watchers also wake at the holder's expiry.
 *
 * Contract, per channel: one `SUBSCRIBE` is in flight or done at a time, and
 * every `add()` for the channel resolves only once that `SUBSCRIBE` was
 * acknowledged (a second concurrent `add()` waits for the first's). If it
 * fails, every `add()` waiting on it rejects and the channel is forgotten,
 * so the next `add()` subscribes afresh. The last listener to leave
 * unsubscribes (after a pending `SUBSCRIBE` settles). Bounding the wait is
 * the caller's job (`WakeSubscription`).
 */
export interface SubscriberConnection {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

interface Channel {
  readonly listeners: Set<(message: string) => void>;
  /** The channel's `SUBSCRIBE`; rejects if it failed. */
  readonly subscribed: Promise<unknown>;
}

export class ChannelSubscriptions {
  readonly #open: () => SubscriberConnection;
  #connection: SubscriberConnection | undefined;
  readonly #channels = new Map<string, Channel>();

  constructor(open: () => SubscriberConnection) {
    this.#open = open;
  }

  async add(channel: string, listener: (message: string) => void): Promise<() => void> {
    const connection = this.#connect();
    let entry = this.#channels.get(channel);
    if (!entry) {
      const subscribed = connection.subscribe(channel);
      entry = { listeners: new Set(), subscribed };
      const created = entry;
      this.#channels.set(channel, created);
      subscribed.catch(() => {
        if (this.#channels.get(channel) === created) this.#channels.delete(channel);
      });
    }
    const own = (message: string): void => listener(message);
    entry.listeners.add(own);
    const joined = entry;
    try {
      await joined.subscribed;
    } catch (error) {
      joined.listeners.delete(own);
      throw error;
    }
    return () => this.#remove(channel, joined, own);
  }

  close(): void {
    this.#channels.clear();
    this.#connection?.disconnect();
    this.#connection = undefined;
  }

  #remove(name: string, channel: Channel, listener: (message: string) => void): void {
    if (!channel.listeners.delete(listener) || channel.listeners.size > 0) return;
    if (this.#channels.get(name) !== channel) return;
    this.#channels.delete(name);
    const connection = this.#connection;
    // Best effort: a failed UNSUBSCRIBE only costs unwanted messages, which are ignored.
    // Skipped if the channel was added again meanwhile: its SUBSCRIBE went out before this.
    void channel.subscribed
      .then(() => (this.#channels.has(name) ? undefined : connection?.unsubscribe(name)))
      .catch(() => undefined);
  }

  #connect(): SubscriberConnection {
    if (this.#connection) return this.#connection;
    const connection = this.#open();
    connection.on('message', (channel, message) => {
      const entry = this.#channels.get(channel);
      if (!entry) return;
      for (const listener of [...entry.listeners]) {
        try {
          listener(message);
        } catch {
          // A listener's failure must not break delivery to the others.
        }
      }
    });
    // Without an 'error' listener ioredis logs connection errors to stderr; they are
    // retried by ioredis and surface to callers through the command connection.
    connection.on('error', () => undefined);
    this.#connection = connection;
    return connection;
  }
}
