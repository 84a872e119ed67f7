/**
 * Test-only: a pool whose clients rewrite tenure's acquire statement to the
 * naive term rule (a new row starts at 1, each grant is `term + 1`, no
 * server-time floor), to show in the fault suite what the shipped rule
 * `greatest(term + 1, server µs)` prevents: after the table is restored
 * from an older dump, terms repeat and go back (must fire). Never shipped.
 */
import type { PgPoolClientLike, PgPoolLike } from '../../src/lock/postgres/pg-types.js';

const FLOOR = 'floor(extract(epoch FROM now.t) * 1000000)::bigint';
const NEXT = 'greatest(l.term + 1, excluded.term)';

export function withLegacyTerms(pool: PgPoolLike): PgPoolLike {
  const rewrite = (text: string): string =>
    text.includes(NEXT) ? text.replace(FLOOR, '1::bigint').replace(NEXT, 'l.term + 1') : text;
  return {
    ...(pool.options ? { options: pool.options } : {}),
    ...(pool.Client ? { Client: pool.Client } : {}),
    connect: async (): Promise<PgPoolClientLike> => {
      const client = await pool.connect();
      return new Proxy(client, {
        get(target, property, receiver) {
          if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
          return (config: string | { text: string; values?: unknown[] }) =>
            typeof config === 'string'
              ? target.query(rewrite(config))
              : target.query({ ...config, text: rewrite(config.text) });
        },
      });
    },
  };
}
