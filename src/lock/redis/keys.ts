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
  /** Hash: ticket -> expiry (server ms) of each queued ticket. */
  readonly tickets: string;
}

export function leaseKeys(namespace: string, name: string): LeaseKeys {
  const tag = `{${namespace}:${name}}`;
  return {
    lease: `${tag}:lease`,
    term: `${tag}:term`,
    channel: `${tag}:events`,
    queue: `${tag}:queue`,
    tickets: `${tag}:tickets`,
  };
}
