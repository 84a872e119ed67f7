import { EtcdLeaseStore } from '../../src/lock/etcd/etcd-store.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { electorSuite } from './elector-suite.js';

// A private 3-member cluster. "The server dies" is every member SIGKILLed (quorum lost);
// the restart brings all three back from their data directories.
let cluster: EtcdCluster;
let prefixes = 0;
electorSuite({
  label: 'etcd (3 members)',
  start: async () => {
    cluster = await EtcdCluster.start();
  },
  stop: () => cluster.stop(),
  namespace: () => Promise.resolve(`elector/${prefixes++}/`),
  store: (prefix) => {
    const client = cluster.client();
    return {
      store: new EtcdLeaseStore({ client, prefix }),
      close: () => Promise.resolve(client.close()),
    };
  },
  worker: () => ({ port: 0, etcd: cluster.endpoints }),
  kill: async () => {
    await Promise.all(cluster.members.map((m) => m.terminate('SIGKILL')));
  },
  restart: () => cluster.restartAll(),
});
