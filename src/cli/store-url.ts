/**
 * Parses the `--store` URL (or `TENURE_STORE`) into what `open-store.ts`
 * needs, and renders it for messages with the password replaced by `***`.
 *
 *   redis://[user[:password]@]host[:port][/db]           one server (ioredis)
 *   rediss://…                                            the same over TLS
 *   redis+sentinel://[user[:password]@]host:port[,…]/<master>[/db]
 *   redis+cluster://[user[:password]@]host:port[,…]
 *   postgres://… or postgresql://…                        node-postgres connection string
 *   etcd://[user[:password]@]host:port[,…]  (etcds:// for TLS)
 *
 * Query parameters tenure reads (others are an error, so a typo is not
 * silently ignored): `waitReplicas`, `quarantineMs` (Redis kinds) and
 * `sentinelPassword` (Sentinel). A PostgreSQL URL is passed to node-postgres
 * whole, so its own parameters (`sslmode`, …) work.
 */
import { UsageError } from './args.js';

export type StoreKind = 'redis' | 'sentinel' | 'cluster' | 'postgres' | 'etcd';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface StoreUrl {
  readonly kind: StoreKind;
  readonly tls: boolean;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly hosts: readonly HostPort[];
  /** Redis db number (standalone and Sentinel). */
  readonly db: number;
  /** Sentinel: the monitored primary's name. */
  readonly master: string | undefined;
  readonly params: Readonly<Record<string, string>>;
  /** PostgreSQL: the URL as given, for node-postgres. */
  readonly raw: string;
  /** For messages and `--json` output: never contains the password. */
  readonly display: string;
}

const SCHEMES: Readonly<Record<string, { kind: StoreKind; tls: boolean; port: number }>> = {
  'redis:': { kind: 'redis', tls: false, port: 6379 },
  'rediss:': { kind: 'redis', tls: true, port: 6379 },
  'redis+sentinel:': { kind: 'sentinel', tls: false, port: 26379 },
  'redis+cluster:': { kind: 'cluster', tls: false, port: 6379 },
  'postgres:': { kind: 'postgres', tls: false, port: 5432 },
  'postgresql:': { kind: 'postgres', tls: false, port: 5432 },
  'etcd:': { kind: 'etcd', tls: false, port: 2379 },
  'etcds:': { kind: 'etcd', tls: true, port: 2379 },
};

const PARAMS: Readonly<Record<StoreKind, readonly string[]>> = {
  redis: ['waitReplicas', 'quarantineMs'],
  sentinel: ['waitReplicas', 'quarantineMs', 'sentinelPassword'],
  cluster: ['waitReplicas', 'quarantineMs'],
  postgres: [],
  etcd: [],
};

const SCHEME = /^([a-z][a-z0-9+.-]*:)\/\//i;
/** After the scheme and the user info: hosts, path, query. */
const REST = /^([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/;

export function parseStoreUrl(input: string): StoreUrl {
  const text = input.trim();
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'memory:')
    throw new UsageError(
      'The memory store lives inside one process, so separate `tenure` processes cannot share it; use redis://, postgres:// or etcd://',
    );
  const known = scheme === undefined ? undefined : SCHEMES[scheme];
  if (scheme === undefined || !known)
    throw new UsageError(
      `Unsupported store URL ${JSON.stringify(redactLoose(text))}: expected redis://, rediss://, redis+sentinel://, redis+cluster://, postgres:// or etcd://`,
    );
  // The user info ends at the last '@': a password with an unencoded '@', '/' or '?' is
  // still taken whole (and never echoed), not split into hosts and paths.
  const afterScheme = text.slice(scheme.length + 2);
  const at = afterScheme.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : afterScheme.slice(0, at);
  const rest = REST.exec(at < 0 ? afterScheme : afterScheme.slice(at + 1));
  if (!rest) throw new UsageError(`Bad store URL ${JSON.stringify(redactLoose(text))}`);
  const [, authority = '', path = '', query = ''] = rest;
  const { username, password } = splitUserinfo(userinfo);
  const hosts = authority === '' ? [] : authority.split(',').map((h) => hostPort(h, known.port));
  if (hosts.length === 0 && known.kind !== 'postgres')
    throw new UsageError(`The store URL names no host: ${JSON.stringify(redactLoose(text))}`);
  if (hosts.length > 1 && known.kind === 'redis')
    throw new UsageError(
      'A redis:// URL names one server; for several use redis+sentinel:// or redis+cluster://',
    );
  const params = known.kind === 'postgres' ? {} : queryParams(query, known.kind);
  const segments = path.split('/').filter((s) => s !== '');
  let db = 0;
  let master: string | undefined;
  if (known.kind === 'sentinel') {
    master = segments[0] === undefined ? undefined : decode(segments[0], 'primary name');
    if (master === undefined)
      throw new UsageError(
        'A redis+sentinel:// URL needs the primary’s name as its path: redis+sentinel://host:26379/<master>',
      );
    db = dbNumber(segments[1]);
    if (segments.length > 2)
      throw new UsageError(
        `A redis+sentinel:// URL's path is /<master>[/<db>], got ${JSON.stringify(path)}`,
      );
  } else if (known.kind === 'redis') {
    db = dbNumber(segments[0]);
    if (segments.length > 1)
      throw new UsageError(`A redis:// URL's path is /<db>, got ${JSON.stringify(path)}`);
  } else if (known.kind !== 'postgres' && segments.length > 0) {
    throw new UsageError(`A ${scheme}// URL takes no path, got ${JSON.stringify(path)}`);
  }
  const who =
    username === undefined && password === undefined
      ? ''
      : `${username ?? ''}${password === undefined ? '' : ':***'}@`;
  return {
    kind: known.kind,
    tls: known.tls,
    username,
    password,
    hosts,
    db,
    master,
    params,
    raw: text,
    display: `${scheme}//${who}${authority}${path}${query === '' ? '' : '?' + redactQuery(query)}`,
  };
}

function splitUserinfo(userinfo: string | undefined): {
  username: string | undefined;
  password: string | undefined;
} {
  if (userinfo === undefined) return { username: undefined, password: undefined };
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const password = colon < 0 ? undefined : decode(userinfo.slice(colon + 1), 'password');
  return { username: user === '' ? undefined : decode(user, 'user name'), password };
}

/** Percent-decoding; a malformed escape is a usage error that does not echo the text. */
function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(`The ${what} in the store URL has a malformed %-escape`);
  }
}

function hostPort(text: string, defaultPort: number): HostPort {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]@]+)(?::(\d{1,5}))?$/i.exec(text);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || port < 1 || port > 65535)
    throw new UsageError(`Bad host in the store URL: ${JSON.stringify(text)} (expected host:port)`);
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

function dbNumber(segment: string | undefined): number {
  if (segment === undefined) return 0;
  if (!/^\d{1,2}$/.test(segment))
    throw new UsageError(
      `The Redis database in the store URL must be a number, got ${JSON.stringify(segment)}`,
    );
  return Number(segment);
}

function queryParams(query: string, kind: StoreKind): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(query)) {
    if (!PARAMS[kind].includes(key))
      throw new UsageError(
        `Unknown store URL parameter ${JSON.stringify(key)} for ${kind}${PARAMS[kind].length ? `; known: ${PARAMS[kind].join(', ')}` : ''}`,
      );
    out[key] = value;
  }
  return out;
}

/** Integer query parameter, or undefined when absent. */
export function integerParam(url: StoreUrl, name: string, min: number): number | undefined {
  const raw = url.params[name];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min)
    throw new UsageError(
      `Store URL parameter ${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`,
    );
  return Number(raw);
}

/** Hides the value of every query parameter whose name speaks of a secret (sslpassword, …). */
function redactQuery(query: string): string {
  return query.replace(/((?:^|&)[^=&]*(?:pass|secret|token|key)[^=&]*=)[^&]*/gi, '$1***');
}

/** Redaction of something that did not parse: everything up to the last '@' is user info. */
function redactLoose(input: string): string {
  const at = input.lastIndexOf('@');
  const scheme = /^[^:/@]*:\/*/.exec(input)?.[0] ?? '';
  const hidden = at < 0 ? input : `${scheme}***@${input.slice(at + 1)}`;
  const q = hidden.indexOf('?');
  return q < 0 ? hidden : hidden.slice(0, q + 1) + redactQuery(hidden.slice(q + 1));
}
