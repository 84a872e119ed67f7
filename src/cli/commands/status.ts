/**
 * `tenure status [--prefix P] [--json]`: every lease held now under the
 * namespace (locks and elections alike: an election is a lease named after
 * it), read without acquiring. A snapshot read name by name (see
 * `LeaseStore.list`).
 */
import { Locker } from '../../lock/locker.js';
import { type Parsed, UsageError, stringFlag } from '../args.js';
import { context, withStore } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../table.js';

export const STATUS_FLAGS = { prefix: { type: 'string' } } as const;

export async function status(parsed: Parsed): Promise<number> {
  if (parsed.positionals.length > 0)
    throw new UsageError(`status takes no arguments, got ${JSON.stringify(parsed.positionals[0])}`);
  const ctx = context(parsed);
  const prefix = stringFlag(parsed, 'prefix') ?? '';
  const leases = await withStore(ctx, (open) => new Locker(open.store).list(prefix));
  if (ctx.json) {
    process.stdout.write(
      `${JSON.stringify({ store: ctx.url.display, namespace: ctx.namespace, leases })}\n`,
    );
    return EXIT.ok;
  }
  if (leases.length === 0) {
    process.stdout.write(
      `no leases held under namespace ${ctx.namespace}${prefix ? ` with prefix ${prefix}` : ''}\n`,
    );
    return EXIT.ok;
  }
  process.stdout.write(
    table(
      ['NAME', 'HOLDER', 'TERM', 'REMAINING', 'DATA'],
      leases.map((l) => [
        l.name,
        l.identity,
        String(l.term),
        `${(l.remainingMs / 1000).toFixed(1)}s`,
        l.data === undefined ? '' : JSON.stringify(l.data),
      ]),
    ),
  );
  return EXIT.ok;
}
