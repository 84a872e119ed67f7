/**
 * One pub/sub connection per store, opened lazily with `client.duplicate()`
 * (so TLS, ACL user, password and Sentinel settings carry over) and closed by
 * the store. Channels are reference-counted across listeners. ioredis
 * re-subscribes after a reconnect; messages sent while disconnected are lost,
 * which is why watchers also wake at the holder's expiry.
 */
export interface SubscriberConnection {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

export class ChannelSubscriptions {
  readonly #open: () => SubscriberConnection;
  #connection: SubscriberConnection | undefined;
  readonly #listeners = new Map<string, Set<(message: string) => void>>();

  constructor(open: () => SubscriberConnection) {
    this.#open = open;
  }

  async add(channel: string, listener: (message: string) => void): Promise<() => void> {
    const connection = this.#connect();
    let set = this.#listeners.get(channel);
    const first = !set;
    if (!set) this.#listeners.set(channel, (set = new Set()));
    const entry = (message: string): void => listener(message);
    set.add(entry);
    if (first) {
      try {
        await connection.subscribe(channel);
      } catch (error) {
        this.#remove(channel, entry);
        throw error;
      }
    }
    return () => this.#remove(channel, entry);
  }

  close(): void {
    this.#listeners.clear();
    this.#connection?.disconnect();
    this.#connection = undefined;
  }

  #remove(channel: string, entry: (message: string) => void): void {
    const set = this.#listeners.get(channel);
    if (!set?.delete(entry) || set.size > 0) return;
    this.#listeners.delete(channel);
    // Best effort: a failed UNSUBSCRIBE only costs unwanted messages, which are ignored.
    this.#connection?.unsubscribe(channel).catch(() => undefined);
  }

  #connect(): SubscriberConnection {
    if (this.#connection) return this.#connection;
    const connection = this.#open();
    connection.on('message', (channel, message) => {
      const set = this.#listeners.get(channel);
      if (!set) return;
      for (const listener of [...set]) {
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
