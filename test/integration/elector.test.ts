import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';
import { electorSuite } from './elector-suite.js';

let server: RedisServer;
electorSuite({
  label: 'Redis',
  start: async () => {
    server = await RedisServer.start();
  },
  stop: () => server.stop(),
  namespace: () => Promise.resolve(uniqueNamespace()),
  store: (namespace) => {
    const client = server.client({ maxRetriesPerRequest: 1 });
    return { store: new RedisLeaseStore({ client, namespace }), close: () => client.quit() };
  },
  worker: () => ({ port: server.port }),
  kill: () => server.kill(),
  restart: () => server.restart(),
});
