import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { leaseStoreContract } from './lease-store-contract.js';

leaseStoreContract('postgres', async () => {
  const server = await PostgresServer.start();
  const pool = server.pool({ max: 8 });
  const stores: PostgresLeaseStore[] = [];
  return {
    // A table per test: tests never share leases.
    store: async () => {
      const store = new PostgresLeaseStore({ pool, table: `leases_${stores.length}` });
      stores.push(store);
      await store.createTable();
      return store;
    },
    // A private server started by this file: truncating loses only this file's data.
    loseAllData: async () => {
      for (const store of stores) await pool.query(`TRUNCATE ${store.table}`);
    },
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
      await server.stop();
    },
  };
});
