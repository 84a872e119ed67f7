import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
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
