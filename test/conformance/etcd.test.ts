import { EtcdLeaseStore } from '../../src/lock/etcd/etcd-store.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { leaseStoreContract } from './lease-store-contract.js';

// A private 3-member cluster; the client knows all three endpoints. Each test gets its own
// key prefix. etcd counts lease ttls in whole seconds (1 s is this cluster's minimum) and
// deletes expired leases on a 500 ms tick; it has no hand-off reservation (docs/safety.md).
leaseStoreContract(
  'etcd (3 members)',
  async () => {
    const cluster = await EtcdCluster.start();
    const client = cluster.client();
    const stores: EtcdLeaseStore[] = [];
    return {
      store: () => {
        const store = new EtcdLeaseStore({ client, prefix: `contract/${stores.length}/` });
        stores.push(store);
        return store;
      },
      // A private cluster started by this file: deleting every key loses only this file's
      // data. Revisions keep counting, which is exactly why terms must not rely on them alone.
      loseAllData: async () => {
        await client.delete().all();
      },
      close: async () => {
        await Promise.all(stores.map((s) => s.close()));
        await cluster.stop();
      },
    };
  },
  { shortTtlMs: 1000, expiryLagMs: 1000, handoff: false, contendedGrants: 250 },
);
