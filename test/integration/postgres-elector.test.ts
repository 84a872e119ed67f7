import type pg from 'pg';
import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';
import { PgBouncer } from '../helpers/pgbouncer.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { electorSuite } from './elector-suite.js';

let server: PostgresServer;
let admin: pg.Pool;
let tables = 0;
electorSuite({
  label: 'PostgreSQL',
  start: async () => {
    server = await PostgresServer.start();
    admin = server.pool({ max: 1 });
  },
  stop: () => server.stop(),
  namespace: async () => {
    const table = `elector_${tables++}`;
    await new PostgresLeaseStore({ pool: admin, table, listen: false }).createTable();
    return table;
  },
  store: (table) => {
    const pool = server.pool({ max: 4 });
    return { store: new PostgresLeaseStore({ pool, table }), close: () => pool.end() };
  },
  worker: () => ({ port: server.port, postgres: true }),
  kill: () => server.kill(),
  restart: () => server.restart(),
});

// The same suite with every statement through PgBouncer in transaction pooling mode (LISTEN
// on a direct connection, no named prepared statements, as the README says).
let bouncer: PgBouncer;
let direct: PostgresServer;
let bouncedAdmin: pg.Pool;
electorSuite({
  label: 'PostgreSQL through PgBouncer (transaction pooling)',
  start: async () => {
    direct = await PostgresServer.start();
    bouncer = await PgBouncer.start(direct, 4);
    bouncedAdmin = direct.pool({ max: 1 });
  },
  stop: async () => {
    await bouncer.stop();
    await direct.stop();
  },
  namespace: async () => {
    const table = `bounced_${tables++}`;
    await new PostgresLeaseStore({ pool: bouncedAdmin, table, listen: false }).createTable();
    return table;
  },
  store: (table) => {
    const pool = bouncer.pool({ max: 4 });
    const listen = {
      host: direct.host,
      port: direct.port,
      user: direct.user,
      database: direct.database,
    };
    return {
      store: new PostgresLeaseStore({ pool, table, listen, preparedStatements: false }),
      close: () => pool.end(),
    };
  },
  worker: () => ({ port: bouncer.port, postgres: true, directPort: direct.port }),
  kill: () => direct.kill(),
  restart: () => direct.restart(),
});
