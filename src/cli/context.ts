/**
 * What every command shares: the store (`--store` or `TENURE_STORE`), the
 * namespace (`--namespace` or `TENURE_NAMESPACE`, default `tenure`), output
 * mode and the log.
 */
import {
  ClusterMisconfigurationError,
  ConfigurationError,
  PermissionError,
  SchemaMissingError,
  StoreError,
} from '../errors.js';
import { UsageError, booleanFlag, stringFlag, type Parsed } from './args.js';
import { connectFailure, describeConnectFailure } from './connect-failure.js';
import { EXIT } from './exit-codes.js';
import { createLog, type CliLog } from './log.js';
import { openStore, type OpenStore } from './open-store.js';
import { parseStoreUrl, type StoreUrl } from './store-url.js';

export interface Context {
  readonly url: StoreUrl;
  readonly namespace: string;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly log: CliLog;
}

const NAMESPACE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export function context(parsed: Parsed): Context {
  const store = stringFlag(parsed, 'store') ?? process.env['TENURE_STORE'];
  if (store === undefined || store === '')
    throw new UsageError(
      'No store: pass --store <url> or set TENURE_STORE (e.g. redis://127.0.0.1:6379)',
    );
  const namespace = stringFlag(parsed, 'namespace') ?? process.env['TENURE_NAMESPACE'] ?? 'tenure';
  if (!NAMESPACE.test(namespace))
    throw new UsageError(
      `--namespace must be 1–64 letters, digits, '_', '.' or '-' (not starting with '.' or '-'), got ${JSON.stringify(namespace)}`,
    );
  const json = booleanFlag(parsed, 'json');
  const verbose = booleanFlag(parsed, 'verbose');
  return { url: parseStoreUrl(store), namespace, json, verbose, log: createLog(json, verbose) };
}

/** A store error, with the store (password hidden) named in the message. Exits `exitCode`. */
export class StoreFailure extends Error {
  override readonly name = 'StoreFailure';
  /** 69 (unavailable, refused, auth) or 78 (the store is not set up as tenure needs). */
  readonly exitCode: number;
  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, { cause: options.cause });
    this.exitCode = options.exitCode ?? EXIT.unavailable;
  }
}

export interface StoreBounds {
  /**
   * A store that refuses connections or cannot be reached at start is
   * reported and used anyway (`run`: a fleet restarted during an outage keeps
   * campaigning). Definite failures (DNS, auth) still end the command.
   */
  readonly tolerateUnreachable?: boolean;
  /** Connecting may take at most this long (`lock --wait-ms`); default 5 s. */
  readonly connectMs?: number;
}

/**
 * Opens the store, runs `fn`, and closes the store whatever happens. Store
 * errors come out as {@link StoreFailure} naming the store and, when the
 * connection failed, why (refused, DNS, auth).
 */
export async function withStore<T>(
  ctx: Context,
  fn: (open: OpenStore) => Promise<T>,
  bounds: StoreBounds = {},
): Promise<T> {
  const open = await openStore(ctx.url, ctx.namespace, bounds.connectMs);
  try {
    if (open.connectError !== undefined) {
      const failure = connectFailure(open.connectError);
      if (failure !== null && (failure.definite || bounds.tolerateUnreachable !== true))
        throw new StoreFailure(`${ctx.url.display}: ${describeConnectFailure(failure)}`, {
          cause: open.connectError,
        });
      if (failure !== null)
        ctx.log.warn(
          { store: ctx.url.display },
          `${describeConnectFailure(failure)}; campaigning anyway`,
        );
    }
    return await fn(open);
  } catch (error) {
    throw storeFailure(ctx, error);
  } finally {
    await open.close().catch(() => {});
  }
}

/**
 * What the user is told about a failed store: the store's display URL, then
 * why. Errors that are not the store's pass through unchanged.
 */
export function storeFailure(ctx: Context, error: unknown): unknown {
  // Only the store's own errors: a usage error from the command (say --metrics-host naming
  // a host that does not resolve) must not read as the store's failure.
  if (!(error instanceof StoreError || error instanceof ConfigurationError)) return error;
  const failure = connectFailure(error);
  if (failure !== null)
    return new StoreFailure(`${ctx.url.display}: ${describeConnectFailure(failure)}`, {
      cause: error,
    });
  if (error instanceof SchemaMissingError)
    return new StoreFailure(
      `${ctx.url.display}: the lease table ${ctx.namespace}_leases does not exist: run \`tenure init\` once with the same --store and --namespace`,
      { cause: error, exitCode: EXIT.config },
    );
  if (error instanceof ClusterMisconfigurationError)
    return new StoreFailure(
      `${ctx.url.display}: the server is a Redis Cluster node: use a redis+cluster:// URL`,
      { cause: error, exitCode: EXIT.usage },
    );
  if (error instanceof ConfigurationError && !(error instanceof PermissionError))
    return new StoreFailure(`${ctx.url.display}: ${error.message}`, {
      cause: error,
      exitCode: EXIT.config,
    });
  if (error instanceof StoreError || error instanceof ConfigurationError)
    return new StoreFailure(`${ctx.url.display}: ${error.message}`, { cause: error });
  return error;
}
