/**
 * What every command shares: the store (`--store` or `TENURE_STORE`), the
 * namespace (`--namespace` or `TENURE_NAMESPACE`, default `tenure`), output
 * mode and the log.
 */
import { ConfigurationError, StoreError } from '../errors.js';
import { UsageError, booleanFlag, stringFlag, type Parsed } from './args.js';
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

/** A store error, with the store (password hidden) named in the message. Exits 69. */
export class StoreFailure extends Error {
  override readonly name = 'StoreFailure';
}

/**
 * Opens the store, runs `fn`, and closes the store whatever happens. Store
 * errors come out as {@link StoreFailure} naming the store.
 */
export async function withStore<T>(ctx: Context, fn: (open: OpenStore) => Promise<T>): Promise<T> {
  const open = await openStore(ctx.url, ctx.namespace);
  try {
    return await fn(open);
  } catch (error) {
    if (error instanceof StoreError || error instanceof ConfigurationError)
      throw new StoreFailure(`${ctx.url.display}: ${error.message}`, { cause: error });
    throw error;
  } finally {
    await open.close().catch(() => {});
  }
}
