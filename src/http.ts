/**
 * The `tenure/http` entry point: `/metrics`, `/healthz` and `/leader` for an
 * Elector on node:http. Kept apart so the main entry stays minimal.
 */
export {
  electionHandler,
  serveElection,
  type ElectionHandlerOptions,
  type ElectionServer,
  type ElectionServerOptions,
  type MetricsRegistry,
} from './http/election-server.js';
