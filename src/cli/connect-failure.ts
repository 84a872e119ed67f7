/**
 * Names why a store could not be reached, from whatever the client reported
 * (a socket errno, a Redis reply, a SQLSTATE, a gRPC status text), so the
 * CLI says "connection refused" at once instead of a timeout later, and a
 * down server is not mistaken for a slow one. The error and its `cause`,
 * `lastNodeError` and `errors` chain are searched, first match wins.
 *
 * | kind          | from                                                        | definite |
 * |---------------|-------------------------------------------------------------|----------|
 * | `refused`     | ECONNREFUSED                                                | no       |
 * | `dns`         | ENOTFOUND, EAI_NONAME, gRPC "Name resolution failed"        | yes      |
 * | `auth`        | WRONGPASS, NOAUTH, SQLSTATE 28P01/28000, etcd auth failures | yes      |
 * | `unreachable` | EHOSTUNREACH, ENETUNREACH, EAI_AGAIN, no Sentinel reachable | no       |
 *
 * Definite failures will not go away by waiting (a wrong host name or
 * password); the others may (a server restarting, a network partition).
 */
export type ConnectFailureKind = 'refused' | 'dns' | 'auth' | 'unreachable';

export interface ConnectFailure {
  readonly kind: ConnectFailureKind;
  /** Whether waiting cannot fix it (see the table above). */
  readonly definite: boolean;
  /** The client's own words for it, one line. */
  readonly detail: string;
}

const LABEL: Readonly<Record<ConnectFailureKind, string>> = {
  refused: 'connection refused',
  dns: 'host name not found (DNS)',
  auth: 'authentication failed',
  unreachable: 'server unreachable',
};

const RULES: readonly {
  readonly kind: ConnectFailureKind;
  readonly codes: readonly string[];
  readonly text: RegExp;
}[] = [
  {
    kind: 'auth',
    codes: ['28P01', '28000'],
    text: /WRONGPASS|NOAUTH|authentication failed|invalid (user|username|password)|UNAUTHENTICATED/i,
  },
  {
    kind: 'dns',
    codes: ['ENOTFOUND', 'EAI_NONAME'],
    text: /ENOTFOUND|EAI_NONAME|Name resolution failed/,
  },
  { kind: 'refused', codes: ['ECONNREFUSED'], text: /ECONNREFUSED/ },
  {
    kind: 'unreachable',
    codes: ['EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'],
    text: /EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|All sentinels are unreachable/,
  },
];

/** Why the store could not be reached, or null when `error` is not a connection failure. */
export function connectFailure(error: unknown): ConnectFailure | null {
  const chain = errorChain(error);
  for (const rule of RULES)
    for (const e of chain) {
      const code = typeof e.code === 'string' ? e.code : '';
      if (rule.codes.includes(code) || rule.text.test(e.message))
        return {
          kind: rule.kind,
          definite: rule.kind === 'auth' || rule.kind === 'dns',
          detail: e.message.split('\n')[0] ?? '',
        };
    }
  return null;
}

/** "connection refused (connect ECONNREFUSED 127.0.0.1:1)". */
export function describeConnectFailure(failure: ConnectFailure): string {
  return failure.detail === '' ? LABEL[failure.kind] : `${LABEL[failure.kind]} (${failure.detail})`;
}

interface ErrorLike {
  readonly message: string;
  readonly code?: unknown;
}

function errorChain(error: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): void => {
    if (depth > 8 || e === null || typeof e !== 'object' || seen.has(e)) return;
    seen.add(e);
    const { message, code, cause, lastNodeError, errors } = e as Record<string, unknown>;
    if (typeof message === 'string') out.push({ message, code });
    visit(cause, depth + 1);
    visit(lastNodeError, depth + 1);
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return out;
}
