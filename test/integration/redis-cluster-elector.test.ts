import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { uniqueNamespace } from '../helpers/redis-server.js';
import { electorSuite } from './elector-suite.js';

// A private Redis Cluster (3 primaries, 1 replica each) through ioredis `Cluster`;
// notifications over sharded pub/sub. "The server dies" is every node SIGKILLed.
let cluster: RedisCluster;
electorSuite({
  label: 'Redis Cluster (3 primaries + 3 replicas)',
  start: async () => {
    cluster = await RedisCluster.start();
  },
  stop: () => cluster.stop(),
  namespace: () => Promise.resolve(uniqueNamespace()),
  store: (namespace) => {
    const client = cluster.client();
    return {
      store: new RedisLeaseStore({ client, namespace }),
      close: () => Promise.resolve(client.disconnect()),
    };
  },
  worker: () => ({ port: 0, redisCluster: cluster.nodes.map((n) => n.port) }),
  kill: () => cluster.killAll(),
  restart: () => cluster.restartAll(),
});
