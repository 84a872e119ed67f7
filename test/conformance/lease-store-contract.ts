/**
 * The lease-store contract, run unchanged against every backend (memory,
 * Redis over RESP2 and RESP3, later PostgreSQL and etcd). Real time, short
 * ttls; bounds are generous because CI machines are noisy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Locker } from '../../src/lock/locker.js';
import type { LeaseEvent, LeaseStore } from '../../src/lock/lease-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';

export interface StoreHarness {
  /** A store for a fresh namespace: tests never share keys. */
  store(): LeaseStore | Promise<LeaseStore>;
  /** Simulates the backend losing every lease and term counter. */
  loseAllData(): Promise<void>;
  close(): Promise<void>;
}

/** What a backend does differently, within the contract. */
export interface StoreCapabilities {
  /** Shortest ttl the backend honours as asked (etcd counts whole seconds). @default 100 */
  readonly shortTtlMs?: number;
  /** How long after its ttl an expired lease may still block an acquire (etcd revokes on a 500 ms tick). @default 0 */
  readonly expiryLagMs?: number;
  /** Whether a release leaves a fair hand-off reservation and counts its subscribers. @default true */
  readonly handoff?: boolean;
  /**
   * Grants in the contended-terms test. Each etcd grant and release is a Raft commit
   * (an fsync on every member; 3 members share this machine's disk): 1,000 took 9–25 s
   * in CI runs and over 30 s once under extra load. @default 1000
   */
  readonly contendedGrants?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function request(name: string, identity = 'me', ttlMs = 5000, data = '') {
  return { name, token: OwnershipToken.generate(), ttlMs, identity, data };
}

export function leaseStoreContract(
  label: string,
  makeHarness: () => Promise<StoreHarness>,
  caps: StoreCapabilities = {},
): void {
  const short = caps.shortTtlMs ?? 100;
  const lag = caps.expiryLagMs ?? 0;
  const handoff = caps.handoff ?? true;
  const grants = caps.contendedGrants ?? 1000;
  describe(`LeaseStore contract: ${label}`, () => {
    let harness: StoreHarness;
    let store: LeaseStore;
    beforeAll(async () => {
      harness = await makeHarness();
    });
    afterAll(async () => {
      await harness.close();
    });
    const fresh = async (): Promise<LeaseStore> => (store = await harness.store());

    it('grants a vacant name with a positive term and reports the holder to others', async () => {
      await fresh();
      const a = request('job', 'alpha', 5000, '{"addr":"10.0.0.1"}');
      const granted = await store.acquire(a);
      expect(granted.acquired).toBe(true);
      const term = granted.acquired ? granted.term : -1;
      expect(Number.isSafeInteger(term) && term > 0).toBe(true);

      const denied = await store.acquire(request('job', 'beta'));
      expect(denied).toMatchObject({
        acquired: false,
        holder: { identity: 'alpha', term, data: '{"addr":"10.0.0.1"}' },
      });
      if (!denied.acquired) {
        expect(denied.holder?.remainingMs).toBeGreaterThan(4000);
        expect(denied.holder?.remainingMs).toBeLessThanOrEqual(5000);
      }
      expect(await store.read('job')).toMatchObject({ identity: 'alpha', term });
    });

    it('lists the current holders by prefix, sorted, without reservations or expired leases', async () => {
      await fresh();
      const list = store.list?.bind(store);
      expect(list, 'every backend implements list()').toBeTypeOf('function');
      if (!list) return;
      for (const [name, identity] of [
        ['jobs/b', 'beta'],
        ['jobs/a', 'alpha'],
        ['other', 'omega'],
        ['glob*[x]', 'star'],
      ] as const)
        expect((await store.acquire(request(name, identity))).acquired).toBe(true);
      expect((await store.acquire(request('jobs/short', 'short', short))).acquired).toBe(true);
      const c = request('jobs/c', 'gamma');
      const granted = await store.acquire(c);
      if (!granted.acquired) throw new Error('not acquired');
      const unsubscribe = await store.subscribe('jobs/c', () => undefined);
      await store.release({ name: 'jobs/c', token: c.token, term: granted.term }); // a reservation
      unsubscribe();
      await sleep(short + 50 + lag); // jobs/short expired
      const jobs = await list('jobs/');
      expect(jobs.map((l) => [l.name, l.identity])).toEqual([
        ['jobs/a', 'alpha'],
        ['jobs/b', 'beta'],
      ]);
      for (const l of jobs) {
        expect(l.term).toBeGreaterThan(0);
        expect(l.remainingMs).toBeGreaterThan(0);
        expect(l.remainingMs).toBeLessThanOrEqual(5000);
      }
      expect((await list('')).map((l) => l.name)).toEqual([
        'glob*[x]',
        'jobs/a',
        'jobs/b',
        'other',
      ]);
      expect((await list('glob*')).map((l) => l.name)).toEqual(['glob*[x]']);
      expect(await list('g*')).toEqual([]); // a literal star, not a pattern
      expect(await list('none')).toEqual([]);
    });

    it('reads a vacant name as null', async () => {
      await fresh();
      expect(await store.read('nobody')).toBeNull();
    });

    it('renews only for the owner and never for anyone else', async () => {
      await fresh();
      const ttl = Math.max(300, short);
      const a = request('r', 'alpha', ttl);
      const g = await store.acquire(a);
      if (!g.acquired) throw new Error('not acquired');
      const lease = { name: 'r', token: a.token, term: g.term };
      const intruder = { name: 'r', token: OwnershipToken.generate(), term: g.term };
      expect(await store.renew(intruder, 60_000)).toBe('stolen');
      expect(await store.release(intruder)).toBe(false);
      expect((await store.read('r'))?.remainingMs).toBeLessThanOrEqual(ttl);
      await sleep(150);
      expect(await store.renew(lease, 5000)).toBe('renewed');
      const after = await store.read('r');
      expect(after?.remainingMs).toBeGreaterThan(4000);
      expect(after?.term).toBe(g.term);
    });

    it('expires on the store after ttl, and renew never re-creates an expired lease', async () => {
      await fresh();
      const a = request('e', 'alpha', short);
      const g = await store.acquire(a);
      if (!g.acquired) throw new Error('not acquired');
      await sleep(short + 150 + lag);
      expect(await store.read('e')).toBeNull();
      expect(await store.renew({ name: 'e', token: a.token, term: g.term }, 5000)).toBe('expired');
      expect(await store.read('e')).toBeNull();
      const b = await store.acquire(request('e', 'beta'));
      expect(b.acquired).toBe(true);
    });

    it('updates the data of its own lease only: same term and expiry, subscribers hear it', async () => {
      await fresh();
      const update = store.update?.bind(store);
      expect(update, 'every backend implements update()').toBeTypeOf('function');
      if (!update) return;
      const events: LeaseEvent[] = [];
      const unsubscribe = await store.subscribe('u', (e) => events.push(e));
      const a = request('u', 'alpha', 5000, '{"v":1}');
      const g = await store.acquire(a);
      if (!g.acquired) throw new Error('not acquired');
      const lease = { name: 'u', token: a.token, term: g.term };
      const intruder = { name: 'u', token: OwnershipToken.generate(), term: g.term };
      expect(await update(intruder, '{"v":"evil"}')).toBe('stolen');
      expect(await update(lease, '{"v":2}')).toBe('updated');
      const after = await store.read('u');
      expect(after).toMatchObject({ identity: 'alpha', term: g.term, data: '{"v":2}' });
      expect(after?.remainingMs).toBeGreaterThan(3000);
      expect(after?.remainingMs).toBeLessThanOrEqual(5000);
      await expect.poll(() => events, { timeout: 2000 }).toEqual(['acquired', 'updated']);
      expect(await store.release(lease)).toBe(true);
      expect(await update(lease, '{"v":3}')).toBe('expired');
      unsubscribe();
    });

    it('releases by compare-and-delete: once, and only for the owner', async () => {
      await fresh();
      const a = request('rel');
      const g = await store.acquire(a);
      if (!g.acquired) throw new Error('not acquired');
      const lease = { name: 'rel', token: a.token, term: g.term };
      expect(await store.release(lease)).toBe(true);
      expect(await store.read('rel')).toBeNull();
      expect(await store.release(lease)).toBe(false);
      const b = request('rel', 'beta');
      expect((await store.acquire(b)).acquired).toBe(true);
      expect(await store.release(lease)).toBe(false);
      expect(await store.read('rel')).toMatchObject({ identity: 'beta' });
      expect(await store.renew(lease, 5000)).toBe('stolen');
    });

    it('issues strictly increasing terms, also across data loss', async () => {
      await fresh();
      const terms: number[] = [];
      for (let i = 0; i < 5; i++) {
        const a = request('t');
        const g = await store.acquire(a);
        if (!g.acquired) throw new Error('not acquired');
        terms.push(g.term);
        await store.release({ name: 't', token: a.token, term: g.term });
      }
      await harness.loseAllData();
      const g = await store.acquire(request('t'));
      if (!g.acquired) throw new Error('not acquired after data loss');
      terms.push(g.term);
      for (let i = 1; i < terms.length; i++)
        expect(terms[i]).toBeGreaterThan(terms[i - 1] as number);
    });

    if (handoff) {
      it('reserves a released name for earlier waiters when someone was notified (default handoffMs 50)', async () => {
        await fresh();
        const a = request('handoff', 'alpha');
        const granted = await store.acquire(a);
        if (!granted.acquired) throw new Error('not acquired');
        const unsubscribe = await store.subscribe('handoff', () => undefined);
        expect(await store.release({ name: 'handoff', token: a.token, term: granted.term })).toBe(
          true,
        );
        // A newcomer (and the releaser coming straight back) is refused for at most handoffMs...
        const newcomer = await store.acquire(request('handoff', 'alpha-again'));
        expect(newcomer).toMatchObject({ acquired: false, holder: null });
        const reservedMs =
          !newcomer.acquired && newcomer.holder === null ? newcomer.reservedMs : -1;
        expect(reservedMs).toBeGreaterThan(0);
        expect(reservedMs).toBeLessThanOrEqual(50);
        // ...the name reads as vacant, nobody can renew or release the reservation...
        expect(await store.read('handoff')).toBeNull();
        const stale = { name: 'handoff', token: a.token, term: granted.term };
        expect(await store.renew(stale, 5000)).not.toBe('renewed');
        expect(await store.release(stale)).toBe(false);
        // ...and a caller that was waiting takes it, with a higher term.
        const waiter = await store.acquire({ ...request('handoff', 'beta'), waiting: true });
        expect(waiter).toMatchObject({ acquired: true });
        expect(waiter.acquired && waiter.term).toBeGreaterThan(granted.term);
        unsubscribe();
      });

      it('leaves no reservation when nobody was notified, and a reservation expires on its own', async () => {
        await fresh();
        const a = request('quiet', 'alpha');
        const first = await store.acquire(a);
        if (!first.acquired) throw new Error('not acquired');
        await store.release({ name: 'quiet', token: a.token, term: first.term });
        const b = request('quiet', 'beta');
        const second = await store.acquire(b); // no subscriber: no reservation
        expect(second.acquired).toBe(true);
        if (!second.acquired) return;
        const unsubscribe = await store.subscribe('quiet', () => undefined);
        await store.release({ name: 'quiet', token: b.token, term: second.term });
        unsubscribe();
        expect((await store.acquire(request('quiet', 'gamma'))).acquired).toBe(false);
        await sleep(80); // > handoffMs: nobody took it, the reservation lapsed
        expect((await store.acquire(request('quiet', 'gamma'))).acquired).toBe(true);
      });
    } else {
      it('leaves no hand-off reservation: a release frees the name at once, also for a newcomer', async () => {
        await fresh();
        const a = request('nohandoff', 'alpha');
        const first = await store.acquire(a);
        if (!first.acquired) throw new Error('not acquired');
        const unsubscribe = await store.subscribe('nohandoff', () => undefined);
        expect(await store.release({ name: 'nohandoff', token: a.token, term: first.term })).toBe(
          true,
        );
        const newcomer = await store.acquire(request('nohandoff', 'beta'));
        expect(newcomer.acquired).toBe(true);
        expect(newcomer.acquired && newcomer.term).toBeGreaterThan(first.term);
        unsubscribe();
      });
    }

    it('notifies subscribers of acquisitions and releases, and stops after unsubscribe', async () => {
      await fresh();
      const events: LeaseEvent[] = [];
      const unsubscribe = await store.subscribe('n', (e) => events.push(e));
      const a = request('n');
      const g = await store.acquire(a);
      if (!g.acquired) throw new Error('not acquired');
      await store.release({ name: 'n', token: a.token, term: g.term });
      await expect.poll(() => events, { timeout: 2000 }).toEqual(['acquired', 'released']);
      unsubscribe();
      await sleep(80); // past the hand-off reservation the release left for the subscriber
      await store.acquire(request('n'));
      await sleep(100);
      expect(events).toEqual(['acquired', 'released']);
    });

    it("tells a released event how many subscriptions it reached (1: only the listener's own)", async () => {
      await fresh();
      const seen: (number | undefined)[] = [];
      const unsubscribe = await store.subscribe('count', (e, detail) => {
        if (e === 'released') seen.push(detail?.subscribers);
      });
      const a = request('count');
      const g = await store.acquire(a);
      if (!g.acquired) throw new Error('not acquired');
      await store.release({ name: 'count', token: a.token, term: g.term });
      // Stores that cannot count their subscribers (etcd) leave it unknown.
      await expect.poll(() => seen, { timeout: 2000 }).toEqual([handoff ? 1 : undefined]);
      unsubscribe();
    });

    it('grants exactly one of 20 concurrent contenders per round, with strictly increasing terms over 1,000 acquisitions', async () => {
      await fresh();
      const terms: number[] = [];
      for (let round = 0; round < 50; round++) {
        const requests = Array.from({ length: 20 }, (_, i) => request('race', `w${i}`));
        const results = await Promise.all(requests.map((r) => store.acquire(r)));
        const winners = results.flatMap((r, i) =>
          r.acquired ? [{ term: r.term, token: requests[i]!.token }] : [],
        );
        expect(winners).toHaveLength(1);
        const winner = winners[0]!;
        for (const r of results) if (!r.acquired) expect(r.holder?.term).toBe(winner.term);
        terms.push(winner.term);
        expect(await store.release({ name: 'race', token: winner.token, term: winner.term })).toBe(
          true,
        );
      }
      // 1,000 contended attempts (50 rounds × 20), 50 grants: each term above the last.
      for (let i = 1; i < terms.length; i++)
        expect(terms[i]).toBeGreaterThan(terms[i - 1] as number);
    });

    it(`gives ${grants} contended acquisitions of one name strictly increasing terms`, async () => {
      await fresh();
      const terms: number[] = [];
      // 20 workers race acquire/release on one name until `grants` grants. Grants are
      // serialized by the lease itself, so the order replies arrive is the grant order.
      const worker = async (i: number): Promise<void> => {
        while (terms.length < grants) {
          const r = request('contended', `w${i}`);
          const g = await store.acquire(r);
          if (g.acquired) {
            terms.push(g.term);
            expect(await store.release({ name: 'contended', token: r.token, term: g.term })).toBe(
              true,
            );
          } else {
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, i) => worker(i)));
      expect(terms.length).toBeGreaterThanOrEqual(grants);
      for (let i = 1; i < terms.length; i++)
        expect(terms[i]).toBeGreaterThan(terms[i - 1] as number);
    });

    it('excludes mutually through Locker.withLock across 20 workers', async () => {
      await fresh();
      const locker = new Locker(store);
      let inside = 0;
      let maxInside = 0;
      const tokens: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, () =>
          locker.withLock(
            'mutex',
            { ttlMs: 2000, retryMs: 5, retryJitterMs: 5 },
            async (_signal, token) => {
              inside++;
              maxInside = Math.max(maxInside, inside);
              tokens.push(token);
              await sleep(2);
              inside--;
            },
          ),
        ),
      );
      expect(maxInside).toBe(1);
      expect(tokens).toHaveLength(20);
      for (let i = 1; i < tokens.length; i++)
        expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as number);
    });

    it('watches holder changes including vacancy, woken by release and by expiry', async () => {
      await fresh();
      const locker = new Locker(store);
      const controller = new AbortController();
      const seen: (string | null)[] = [];
      const watching = (async () => {
        for await (const info of locker.watch('w', { signal: controller.signal }))
          seen.push(info ? info.identity : null);
      })();
      await expect.poll(() => seen, { timeout: 2000 }).toEqual([null]);
      const a = new Locker(store, { identity: 'alpha' });
      const lock = await a.lock('w', { ttlMs: 3000 });
      await expect.poll(() => seen, { timeout: 2000 }).toEqual([null, 'alpha']);
      await lock.release();
      await expect.poll(() => seen, { timeout: 2000 }).toEqual([null, 'alpha', null]);
      // Expiry without release (a crashed holder): the watcher wakes at the holder's ttl.
      // (First let the hand-off reservation lapse that the watcher's subscription caused.)
      await sleep(80);
      const crashed = request('w', 'crashed', Math.max(300, short));
      await store.acquire(crashed);
      await expect.poll(() => seen, { timeout: 2000 }).toEqual([null, 'alpha', null, 'crashed']);
      await expect
        .poll(() => seen, { timeout: 3000 })
        .toEqual([null, 'alpha', null, 'crashed', null]);
      controller.abort();
      await watching;
    });
  });
}
