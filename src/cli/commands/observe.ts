/**
 * `tenure observe <election> [--json]`: the current leader (or vacancy),
 * then one line per change: a new holder or term, new data, or vacancy.
 * Runs until SIGINT/SIGTERM (exit 0). Read failures are reported on stderr
 * and the watch keeps going.
 */
import { Locker } from '../../lock/locker.js';
import { type Parsed, onePositional } from '../args.js';
import { context, withStore } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { onShutdown } from '../shutdown.js';

export const OBSERVE_FLAGS = {} as const;

export async function observe(parsed: Parsed): Promise<number> {
  const election = onePositional(parsed, 'election');
  const ctx = context(parsed);
  const abort = new AbortController();
  let off = (): void => {};
  try {
    await withStore(ctx, async (open) => {
      off = onShutdown(() => abort.abort());
      const locker = new Locker(open.store);
      const changes = locker.watch(election, {
        signal: abort.signal,
        onError: (error) => ctx.log.warn({ err: error }, 'reading the leader failed; retrying'),
      });
      try {
        for await (const leader of changes) {
          const time = new Date().toISOString();
          if (ctx.json) {
            process.stdout.write(`${JSON.stringify({ time, election, leader })}\n`);
          } else if (leader === null) {
            process.stdout.write(`${time}  ${election}  no leader\n`);
          } else {
            const data = leader.data === undefined ? '' : `  data ${JSON.stringify(leader.data)}`;
            process.stdout.write(
              `${time}  ${election}  leader ${leader.identity}  term ${leader.term}${data}\n`,
            );
          }
        }
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      }
    });
  } finally {
    off();
  }
  return EXIT.ok;
}
