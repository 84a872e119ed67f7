/**
 * Claim 8: fencing terms on Redis are strictly increasing per name, also across a stale
 * counter (set back with SET on `{ns:name}:term`). Private redis-server (never 6379).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
let client: Redis;
let store: RedisLeaseStore;
beforeAll(async () => {
  server = await RedisServer.start();
  client = server.client();
  store = new RedisLeaseStore({ client, namespace: 'rv' });
});
afterAll(async () => {
  await store.close();
  await server.stop();
});

async function cycle(name: string): Promise<number> {
  const token = OwnershipToken.generate();
  const g = await store.acquire({ name, token, ttlMs: 5000, identity: 'me', data: '' });
  if (!g.acquired) throw new Error('not acquired');
  await store.release({ name, token, term: g.term });
  return g.term;
}
const nowUs = async (): Promise<number> => {
  const [s, us] = await client.time();
  return Number(s) * 1e6 + Number(us);
};

describe('terms across a manipulated counter', () => {
  it('held: counter set back to a small value, to 0, to a negative value, or deleted', async () => {
    const issued: number[] = [await cycle('a'), await cycle('a')];
    for (const v of ['5', '0', '-100', null, String(issued[0])]) {
      if (v === null) await client.del('{rv:a}:term');
      else await client.set('{rv:a}:term', v);
      issued.push(await cycle('a'));
    }
    for (let i = 1; i < issued.length; i++)
      expect(issued[i]).toBeGreaterThan(issued[i - 1] as number);
  });

  it('held (documented assumption): a counter that ran ahead of the server clock, then set back, issues a lower term', async () => {
    // The counter can only be ahead of TIME if the server clock stepped back, or a replica's
    // clock lags its primary's (README "Not guaranteed": clock assumptions).
    const ahead = (await nowUs()) + 1e12;
    await client.set('{rv:b}:term', String(ahead));
    const first = await cycle('b');
    await client.set('{rv:b}:term', String(ahead - 1e6)); // "stale": a snapshot taken a second of terms earlier
    const second = await cycle('b');
    expect(second).toBeLessThan(first); // shows the rule depends on TIME >= every earlier term
  });

  it('minor: a counter at 2^53 - 1: acquisitions are refused with InternalError after the script wrote a lease; the server stores term 2^53 twice', async () => {
    await client.set('{rv:c}:term', String(2 ** 53 - 1));
    const attempt = () =>
      store
        .acquire({
          name: 'c',
          token: OwnershipToken.generate(),
          ttlMs: 5000,
          identity: 'me',
          data: '',
        })
        .then(
          () => 'granted',
          (e: Error) => e.name,
        );
    const first = await attempt();
    const firstStored = await client.hget('{rv:c}:lease', 'term');
    const held = (await client.pttl('{rv:c}:lease')) > 0;
    await client.del('{rv:c}:lease');
    const second = await attempt();
    const secondStored = await client.hget('{rv:c}:lease', 'term');
    // Facts (this expectation passes): the caller gets InternalError, yet the lease is written and blocks
    // the name for its ttl; INCR gave 2^53+1 the second time, Lua's double rounded it to 2^53: a repeated term
    // on the server (no client ever receives it, so no repeated fencing token is handed out).
    expect({ first, firstStored, held, second, secondStored }).toEqual({
      first: 'InternalError',
      firstStored: String(2 ** 53),
      held: true,
      second: 'InternalError',
      secondStored: String(2 ** 53),
    });
  });
});
