import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { uniqueNamespace } from '../helpers/redis-server.js';
import { leaseStoreContract } from './lease-store-contract.js';

// A private Redis Cluster (3 primaries, 1 replica each) through ioredis `Cluster`; each test
// gets its own namespace, so its keys hash to one slot per name.
leaseStoreContract('redis cluster (3 primaries + 3 replicas)', async () => {
  const cluster = await RedisCluster.start();
  const client = cluster.client();
  return {
    store: () => new RedisLeaseStore({ client, namespace: uniqueNamespace() }),
    // A private cluster started by this file: flushing its primaries loses only its data.
    loseAllData: async () => {
      await Promise.all(client.nodes('master').map((n) => n.flushall()));
    },
    close: () => cluster.stop(),
  };
});
