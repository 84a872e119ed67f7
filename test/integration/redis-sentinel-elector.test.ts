import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisSentinelGroup } from '../helpers/redis-sentinel.js';
import { uniqueNamespace } from '../helpers/redis-server.js';
import { electorSuite } from './elector-suite.js';

// A private Sentinel deployment (1 primary, 2 replicas, 3 sentinels); every client connects
// through the sentinels. "The server dies" is the primary and both replicas SIGKILLed.
let group: RedisSentinelGroup;
electorSuite({
  label: 'Redis Sentinel (1 primary, 2 replicas, 3 sentinels)',
  start: async () => {
    group = await RedisSentinelGroup.start();
  },
  stop: () => group.stop(),
  namespace: () => Promise.resolve(uniqueNamespace()),
  store: (namespace) => {
    const client = group.client();
    return {
      store: new RedisLeaseStore({ client, namespace }),
      close: () => Promise.resolve(client.disconnect()),
    };
  },
  worker: () => ({ port: 0, sentinels: group.sentinelPorts }),
  kill: () => group.killAll(),
  restart: () => group.restartAll(),
});
