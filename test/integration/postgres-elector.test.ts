import type pg from 'pg';
import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';
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
