import type { Redis } from 'ioredis';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';
import { leaseStoreContract } from './lease-store-contract.js';

for (const protocol of [2, 3] as const) {
  leaseStoreContract(`redis (RESP${protocol})`, async () => {
    const server = await RedisServer.start();
    const client: Redis = server.client({ protocol });
    const stores: RedisLeaseStore[] = [];
    return {
      store: () => {
        const store = new RedisLeaseStore({
          client,
          namespace: uniqueNamespace(`resp${protocol}`),
        });
        stores.push(store);
        return store;
      },
      // A private server started by this file: flushing it loses only this file's data.
      loseAllData: async () => {
        await client.flushall();
      },
      close: async () => {
        await Promise.all(stores.map((s) => s.close()));
        await server.stop();
      },
    };
  });
}
