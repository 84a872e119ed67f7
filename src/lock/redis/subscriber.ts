/**
 * The Redis store's pub/sub connection: a `duplicate()` of the caller's
 * ioredis client (so TLS, ACL user, password and Sentinel settings carry
 * over) with ioredis's own re-subscription turned off. ioredis re-subscribes
 * after a reconnect without handling the reply, so a connection closed
 * during that re-subscription leaves an unhandled rejection in the
 * application ("Connection is closed.", seen in two CI runs). This wrapper
 * re-subscribes itself, with failures handled, and then reports the
 * reconnect to every channel as the message `RECONNECTED`, so listeners
 * re-read (messages published while it was disconnected are lost).
 * On an ioredis `Cluster` it is a sharded subscriber (see `shardedSubscriber`).
 */
import type { SubscriberConnection } from '../channel-subscriptions.js';
import { type GuardableClient, guardSentinelClient } from './sentinel-guard.js';

export const RECONNECTED = 'tenure:reconnected';

/** What the wrapper needs of the duplicated ioredis connection. */
interface DuplicatedConnection {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

export interface DuplicableClient {
  readonly isCluster?: boolean;
  duplicate(...args: unknown[]): SubscriberConnection;
}

/** `onRevive`: the Sentinel guard reconnected the connection (see sentinel-guard.ts). */
export function redisSubscriber(
  client: DuplicableClient,
  onRevive: () => void = () => {},
): SubscriberConnection {
  if (client.isCluster === true) return shardedSubscriber(client);
  const connection = client.duplicate({
    autoResubscribe: false,
  }) as unknown as DuplicatedConnection;
  const unguard = guardSentinelClient(connection as unknown as GuardableClient, onRevive);
  const channels = new Set<string>();
  const listeners: ((channel: string, message: string) => void)[] = [];
  let readyBefore = false;
  connection.on('ready', () => {
    if (!readyBefore) {
      readyBefore = true;
      return;
    }
    const again = [...channels];
    if (again.length === 0) return;
    Promise.all(again.map((c) => connection.subscribe(c))).then(
      () => {
        for (const channel of again)
          for (const listener of [...listeners]) listener(channel, RECONNECTED);
      },
      () => undefined, // closed or failed again: the next 'ready' tries again
    );
  });
  connection.on('message', (channel, message) => {
    for (const listener of [...listeners]) listener(channel, message);
  });
  return {
    subscribe: (channel) => {
      channels.add(channel);
      return connection.subscribe(channel);
    },
    unsubscribe: (channel) => {
      channels.delete(channel);
      return connection.unsubscribe(channel);
    },
    on: (event: 'message' | 'error', listener: (...args: never[]) => void): unknown => {
      if (event === 'message')
        listeners.push(listener as (channel: string, message: string) => void);
      else connection.on('error', listener as (error: Error) => void);
      return undefined;
    },
    disconnect: () => {
      unguard();
      connection.disconnect();
    },
  };
}

interface ShardedConnection {
  ssubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
  on(event: 'smessage', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

/**
 * On an ioredis `Cluster`: a duplicate with one sharded subscriber per
 * primary (`shardedSubscribers: true`), `SSUBSCRIBE` routed to the
 * channel's shard, so the store's `SPUBLISH` (in the scripts) reaches it and
 * `PUBSUB SHARDNUMSUB` counts it. ioredis follows a shard that moves.
 */
function shardedSubscriber(client: DuplicableClient): SubscriberConnection {
  const connection = client.duplicate([], {
    shardedSubscribers: true,
  }) as unknown as ShardedConnection;
  return {
    subscribe: (channel) => connection.ssubscribe(channel),
    unsubscribe: (channel) => connection.sunsubscribe(channel),
    on: (event: 'message' | 'error', listener: (...args: never[]) => void): unknown =>
      event === 'message'
        ? connection.on('smessage', listener as (channel: string, message: string) => void)
        : connection.on('error', listener as (error: Error) => void),
    disconnect: () => connection.disconnect(),
  };
}
