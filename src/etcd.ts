/**
 * `tenure/etcd`: the etcd v3 lease store. Needs `etcd3`, an optional peer
 * dependency: tenure uses the caller's client and imports only its types.
 */
export {
  EtcdLeaseStore,
  type EtcdClientLike,
  type EtcdLeaseStoreOptions,
} from './lock/etcd/etcd-store.js';
