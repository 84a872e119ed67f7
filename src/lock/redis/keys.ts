/**
 * Every Redis key and channel tenure uses, built in one place. All keys of
 * one name share the hash tag `{<namespace>:<name>}`, so each script touches
 * one slot and works on Redis Cluster. Operators can scope an ACL to
 * `~{<namespace>:*` and `&{<namespace>:*`.
 */
export interface LeaseKeys {
  /** Hash holding the current lease, with a TTL. */
  readonly lease: string;
  /** Integer string: the last term issued. No TTL. */
  readonly term: string;
  /** Pub/sub channel announcing `acquired` / `released`. */
  readonly channel: string;
  /** Sorted set of waiting tickets by arrival (FIFO queue); exists only while someone waits. */
  readonly queue: string;
  /** Sorted set: ticket -> expiry (server ms) of each queued ticket. */
  readonly tickets: string;
  /** Hash: ticket -> what a direct grant gives it, and its store's inbox (see lib/queue.lua). */
  readonly entries: string;
}

/**
 * The channel where a store's waiting tickets for `name` hear their turn
 * (a grant, or that the name is theirs to take), one per store instance.
 */
export function inboxChannel(namespace: string, name: string, storeId: string): string {
  return `{${namespace}:${name}}:to:${storeId}`;
}

export function leaseKeys(namespace: string, name: string): LeaseKeys {
  const tag = `{${namespace}:${name}}`;
  return {
    lease: `${tag}:lease`,
    term: `${tag}:term`,
    channel: `${tag}:events`,
    queue: `${tag}:queue`,
    tickets: `${tag}:tickets`,
    entries: `${tag}:entries`,
  };
}
