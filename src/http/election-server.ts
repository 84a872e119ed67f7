/**
 * A small HTTP surface for one elector on `node:http` (no framework):
 * - `GET /metrics`: Prometheus text from the registry you pass.
 * - `GET /healthz`: 200, or 503 when `elector.health()` is unhealthy (leads
 *   without renewing in time, or the store has been failing too long), with
 *   the health as JSON.
 * - `GET /leader`: JSON with the known leader and this elector's view.
 * It binds 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Elector } from '../election/elector.js';
import { InvalidOptionError } from '../errors.js';
import { describe, integer, ownOptions, text } from '../internal/validate.js';

/** The slice of a prom-client Registry the server needs. */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface ElectionHandlerOptions {
  elector: Elector;
  /** Registry served on /metrics; without it /metrics answers 404. */
  registry?: MetricsRegistry;
  /** Passed to `elector.health()` for /healthz. */
  renewToleranceMs?: number;
  storeToleranceMs?: number;
}

export interface ElectionServerOptions extends ElectionHandlerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
}

export interface ElectionServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

const HANDLER_KEYS = ['elector', 'registry', 'renewToleranceMs', 'storeToleranceMs'] as const;

/** A request listener serving /metrics, /healthz and /leader, to mount on your own server. */
export function electionHandler(
  options: ElectionHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  return handler(ownOptions('options', options, HANDLER_KEYS));
}

function handler(o: Record<string, unknown>): (req: IncomingMessage, res: ServerResponse) => void {
  const elector = o['elector'] as Elector | undefined;
  if (!elector || typeof (elector as Partial<Elector>).health !== 'function') {
    throw new InvalidOptionError(
      'elector',
      `Expected \`elector\` to be an Elector, got ${describe(elector)}`,
    );
  }
  const registry = o['registry'] as MetricsRegistry | undefined;
  if (registry !== undefined && typeof registry.metrics !== 'function') {
    throw new InvalidOptionError(
      'registry',
      `Expected \`registry\` to be a prom-client Registry, got ${describe(registry)}`,
    );
  }
  const health = {
    ...(o['renewToleranceMs'] === undefined
      ? {}
      : { renewToleranceMs: integer('renewToleranceMs', o['renewToleranceMs'], 0) }),
    ...(o['storeToleranceMs'] === undefined
      ? {}
      : { storeToleranceMs: integer('storeToleranceMs', o['storeToleranceMs'], 0) }),
  };
  return (req, res) => {
    void respond(req, res, elector, registry, health).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`error: ${(error as Error).message}\n`);
    });
  };
}

async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  elector: Elector,
  registry: MetricsRegistry | undefined,
  healthOptions: { renewToleranceMs?: number; storeToleranceMs?: number },
): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (path === '/metrics' && registry) {
    const body = await registry.metrics();
    res
      .writeHead(200, { 'content-type': registry.contentType })
      .end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/healthz') {
    const health = elector.health(healthOptions);
    json(res, health.healthy ? 200 : 503, health);
    return;
  }
  if (path === '/leader') {
    json(res, 200, {
      election: elector.election,
      leader: elector.leader,
      self: {
        identity: elector.identity,
        state: elector.state,
        isLeader: elector.isLeader,
        term: elector.term,
        remainingMs: Math.round(elector.remainingMs),
      },
    });
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    })
    .end(`${JSON.stringify(body)}\n`);
}

/** Starts an HTTP server for `elector` and resolves once it listens. */
export async function serveElection(options: ElectionServerOptions): Promise<ElectionServer> {
  const o = ownOptions('options', options, [...HANDLER_KEYS, 'host', 'port']);
  const host = o['host'] === undefined ? '127.0.0.1' : text('host', o['host'], 255);
  const port = integer('port', o['port'] ?? 0, 0, 65_535);
  const server = createServer(handler(o));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    port: actual,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
