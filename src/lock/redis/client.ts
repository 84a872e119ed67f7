/**
 * The slice of an ioredis `Redis` or `Cluster` client the Redis store uses,
 * and the check a client passes before the store accepts it.
 */
import { InvalidOptionError } from '../../errors.js';
import { describe } from '../../internal/validate.js';
import type { SubscriberConnection } from '../channel-subscriptions.js';
import type { ScriptClient } from './script-runner.js';

/** The slice of a node client `list()` needs: SCAN over the key space. */
export interface ScanClient {
  scan(
    cursor: string | number,
    patternToken: 'MATCH',
    pattern: string,
    countToken: 'COUNT',
    count: string | number,
  ): Promise<[cursor: string, elements: string[]]>;
}

/** The slice of an ioredis `Redis` or `Cluster` client the store needs. */
export interface RedisClientLike extends ScriptClient {
  readonly status: string;
  /** Used by `list()` on a standalone or Sentinel client. */
  scan?: ScanClient['scan'];
  /**
   * An ioredis `Cluster`'s node connections: `list()` runs SCAN on every
   * primary; an `ASK` answer to the `WAIT` pipeline is followed on the node it names.
   */
  nodes?(role: 'master' | 'all'): (ScanClient & ClusterNode)[];
  /** ioredis options: `keyPrefix` is applied to keys but not to SCAN patterns or results. */
  readonly options?: {
    readonly keyPrefix?: string | undefined;
    /** The database the client was created on (a later `SELECT` moves it). */
    readonly db?: number | undefined;
    readonly connectTimeout?: number | undefined;
    readonly reconnectOnError?: ((error: Error) => boolean | 1 | 2) | null | undefined;
    /** An ioredis `Cluster`'s options for its node connections. */
    readonly redisOptions?:
      | { readonly reconnectOnError?: ((error: Error) => boolean | 1 | 2) | null | undefined }
      | undefined;
  };
  /** The pub/sub connection (options `{ autoResubscribe: false }` on a standalone client). */
  duplicate(...args: unknown[]): SubscriberConnection;
  /** ioredis sets it: `true` on a `Cluster`. */
  readonly isCluster?: boolean;
  /** Used with `waitReplicas` to send the script and WAIT in one round trip. */
  pipeline?: PipelineClient['pipeline'];
  /** Used by `diagnose()`, best effort. */
  info?(section: string): Promise<string>;
  /** An ioredis `Cluster`'s slot-map refresh: a `MOVED` answer to the `WAIT` pipeline triggers it. */
  refreshSlotsCache?(callback?: (error?: Error | null) => void): void;
}

/** One node connection of an ioredis `Cluster`. */
export interface ClusterNode {
  readonly options?: {
    readonly host?: string | undefined;
    readonly port?: number | undefined;
    /** A node connection's own (ioredis default: empty); set when given in the Cluster's `redisOptions`. */
    readonly keyPrefix?: string | undefined;
  };
  pipeline?: PipelineClient['pipeline'];
}

/** A connection that sends several commands in one round trip. */
export interface PipelineClient {
  pipeline(commands: unknown[][]): { exec(): Promise<[Error | null, unknown][] | null> };
}

/** The `client` option, checked: an open ioredis-like client (throws `InvalidOptionError`). */
export function checkClient(value: unknown): RedisClientLike {
  const c = value as Partial<RedisClientLike> | null | undefined;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.evalsha !== 'function' ||
    typeof c.eval !== 'function' ||
    typeof c.duplicate !== 'function' ||
    typeof c.status !== 'string'
  ) {
    throw new InvalidOptionError(
      'client',
      `Expected \`client\` to be an ioredis Redis or Cluster instance, got ${describe(value)}`,
    );
  }
  if (c.status === 'end' || c.status === 'close') {
    throw new InvalidOptionError(
      'client',
      `Expected \`client\` to be open, got a client with status ${JSON.stringify(c.status)} (was quit() called?)`,
    );
  }
  return c as RedisClientLike;
}
