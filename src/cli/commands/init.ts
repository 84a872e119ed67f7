/**
 * `tenure init`: prepares the store. On PostgreSQL it creates the lease
 * table `<namespace>_leases` (idempotent, as `PostgresLeaseStore.createTable`);
 * Redis and etcd need nothing, and it says so.
 */
import { type Parsed, UsageError } from '../args.js';
import { context, withStore } from '../context.js';
import { EXIT } from '../exit-codes.js';

export const INIT_FLAGS = {} as const;

export async function init(parsed: Parsed): Promise<number> {
  if (parsed.positionals.length > 0)
    throw new UsageError(`init takes no arguments, got ${JSON.stringify(parsed.positionals[0])}`);
  const ctx = context(parsed);
  await withStore(ctx, async (open) => {
    if (open.createTable) {
      await open.createTable();
      ctx.log.event(`lease table ${ctx.namespace}_leases is ready`, { store: ctx.url.display });
    } else {
      ctx.log.event(`nothing to prepare on ${open.store.kind}`, { store: ctx.url.display });
    }
  });
  return EXIT.ok;
}
