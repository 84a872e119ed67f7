import { createHash } from 'node:crypto';

/** The narrow slice of an ioredis `Redis` or `Cluster` tenure uses for commands. */
export interface ScriptClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
  readonly numKeys: number;
}

export function script(name: string, source: string, numKeys: number): Script {
  return { name, source, numKeys, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Runs a script with EVALSHA and, when the server's script cache lost it
 * (restart, failover, `SCRIPT FLUSH`), resends it once with EVAL. `SCRIPT
 * LOAD` is never required, so an ACL that denies it does not matter.
 * One round trip in the normal case, two after cache loss.
 */
export function runScript(
  client: ScriptClient,
  s: Script,
  args: readonly (string | number)[],
  onFallback?: () => void,
): Promise<unknown> {
  // Promise chaining rather than async/await: this is on every operation's path.
  return client.evalsha(s.sha, s.numKeys, ...args).catch((error: unknown) => {
    if (!isNoScript(error)) throw error;
    onFallback?.();
    return client.eval(s.source, s.numKeys, ...args);
  });
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
