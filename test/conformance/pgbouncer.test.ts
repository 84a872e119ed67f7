import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';
import { PgBouncer } from '../helpers/pgbouncer.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { leaseStoreContract } from './lease-store-contract.js';

// Every statement through PgBouncer in transaction pooling mode (2 server
// connections for 8 clients, so consecutive statements of one client land on
// different backends); LISTEN on a direct connection and no named prepared
// statements, as the README says for PgBouncer before 1.21.
leaseStoreContract('postgres through PgBouncer (transaction pooling)', async () => {
  const server = await PostgresServer.start();
  const bouncer = await PgBouncer.start(server, 2);
  const pool = bouncer.pool({ max: 8 });
  const listen = {
    host: server.host,
    port: server.port,
    user: server.user,
    database: server.database,
  };
  const stores: PostgresLeaseStore[] = [];
  return {
    store: async () => {
      const store = new PostgresLeaseStore({
        pool,
        listen,
        table: `leases_${stores.length}`,
        preparedStatements: false, // PgBouncer 1.18 cannot route named prepared statements
      });
      stores.push(store);
      await store.createTable();
      return store;
    },
    loseAllData: async () => {
      for (const store of stores) await pool.query(`TRUNCATE ${store.table}`);
    },
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
      await bouncer.stop();
      await server.stop();
    },
  };
});
