import type pg from 'pg';
import {
  PostgresLeaseStore,
  type PostgresLeaseStoreOptions,
} from '../../src/lock/postgres/postgres-store.js';
import { PgBouncer } from '../helpers/pgbouncer.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { leaseStoreContract, type StoreHarness } from './lease-store-contract.js';

/** A table per test (tests never share leases) on `pool`, with `options` for every store. */
function tables(
  pool: pg.Pool,
  options: Partial<PostgresLeaseStoreOptions>,
  stop: () => Promise<void>,
): StoreHarness {
  const stores: PostgresLeaseStore[] = [];
  return {
    store: async () => {
      const store = new PostgresLeaseStore({ pool, table: `leases_${stores.length}`, ...options });
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
      await stop();
    },
  };
}

leaseStoreContract('postgres', async () => {
  const server = await PostgresServer.start();
  return tables(server.pool({ max: 8 }), {}, () => server.stop());
});

// Every statement through PgBouncer in transaction pooling mode (2 server connections for
// 8 clients, so consecutive statements of one client land on different backends); LISTEN on
// a direct connection and no named prepared statements, as the README says for PgBouncer
// before 1.21.
leaseStoreContract('postgres through PgBouncer (transaction pooling)', async () => {
  const server = await PostgresServer.start();
  const bouncer = await PgBouncer.start(server, 2);
  const listen = {
    host: server.host,
    port: server.port,
    user: server.user,
    database: server.database,
  };
  return tables(bouncer.pool({ max: 8 }), { listen, preparedStatements: false }, async () => {
    await bouncer.stop();
    await server.stop();
  });
});
