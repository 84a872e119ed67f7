import { describe, expect, it } from 'vitest';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { leaseStoreContract } from './lease-store-contract.js';

leaseStoreContract('memory', () => {
  const stores: MemoryLeaseStore[] = [];
  return Promise.resolve({
    store: () => {
      const store = new MemoryLeaseStore();
      stores.push(store);
      return store;
    },
    loseAllData: () => {
      for (const s of stores) s.clear();
      return Promise.resolve();
    },
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
    },
  });
});

describe('MemoryLeaseStore term rule: max(last + 1, wall-clock µs)', () => {
  const request = (name: string) => ({
    name,
    token: OwnershipToken.generate(),
    ttlMs: 1000,
    identity: 'me',
    data: '',
  });
  /** Acquires and releases `name` once; returns the term. */
  async function cycle(store: MemoryLeaseStore, name = 'job'): Promise<number> {
    const r = request(name);
    const g = await store.acquire(r);
    if (!g.acquired) throw new Error('not acquired');
    await store.release({ name, token: r.token, term: g.term });
    return g.term;
  }

  it('issues the wall clock in µs when it is ahead, and counts on when it is not', async () => {
    let wallMs = 1_000;
    const store = new MemoryLeaseStore({ wallClock: () => wallMs, handoffMs: 0 });
    expect(await cycle(store)).toBe(1_000_000);
    expect(await cycle(store)).toBe(1_000_001); // same microsecond: counter + 1
    wallMs = 2_000.0015;
    expect(await cycle(store)).toBe(2_000_001); // the clock is ahead: its µs (floor)
    wallMs = 1_500; // the wall clock stepped back: terms still increase
    expect(await cycle(store)).toBe(2_000_002);
    await store.close();
  });

  it('after the counter was lost, issues a term above every earlier one once the clock moved on', async () => {
    let wallMs = 1_000;
    const store = new MemoryLeaseStore({ wallClock: () => wallMs, handoffMs: 0 });
    const before = [await cycle(store), await cycle(store), await cycle(store)];
    store.clear();
    wallMs += 0.005; // the "restart" took 5 µs
    const after = await cycle(store);
    expect(after).toBeGreaterThan(Math.max(...before));
    expect(after).toBe(1_000_005);
    await store.close();
  });

  it('after clear(), issues a term above every earlier one also when the clock did not move on', async () => {
    const wallMs = 1_000;
    const store = new MemoryLeaseStore({ wallClock: () => wallMs, handoffMs: 0 });
    const before = [await cycle(store), await cycle(store), await cycle(store)];
    store.clear();
    expect(await cycle(store)).toBe(Math.max(...before) + 1);
    await store.close();
  });

  it('after clear(), a counter that ran ahead of the wall clock (grants faster than one a µs) still gets a higher term', async () => {
    // Grants issued faster than one a microsecond (a tight loop: 20,000 in 3.5 ms less than
    // their count in µs was seen) run the counter ahead of the clock; 1 µs later the data is lost.
    let wallMs = 1_000;
    const store = new MemoryLeaseStore({ wallClock: () => wallMs, handoffMs: 0 });
    let last = 0;
    for (let i = 0; i < 50; i++) last = await cycle(store); // all in the same µs: 1_000_000 + 49
    store.clear();
    wallMs += 0.001;
    expect(await cycle(store)).toBeGreaterThan(last);
    await store.close();
  });
});
