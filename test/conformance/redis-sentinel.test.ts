import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisSentinelGroup } from '../helpers/redis-sentinel.js';
import { uniqueNamespace } from '../helpers/redis-server.js';
import { leaseStoreContract } from './lease-store-contract.js';

// A private Sentinel deployment (1 primary, 2 replicas, 3 sentinels); the client connects
// through the sentinels. Each test gets its own namespace.
leaseStoreContract('redis through sentinel (1 primary, 2 replicas, 3 sentinels)', async () => {
  const group = await RedisSentinelGroup.start();
  const client = group.client();
  return {
    store: () => new RedisLeaseStore({ client, namespace: uniqueNamespace() }),
    // A private deployment started by this file: flushing it loses only its data.
    loseAllData: async () => {
      await client.flushall();
    },
    close: () => group.stop(),
  };
});
