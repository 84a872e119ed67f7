/**
 * The run ledger: one record per (job, scheduled fire time), written with a
 * fencing check. A claim carrying a term lower than the highest term the
 * ledger has seen is refused (`stale`): a paused ex-leader that wakes up and
 * tries to run a fire is rejected at the resource, which is what fencing
 * tokens are for. A fire that is already recorded is `duplicate`: it never
 * runs twice, also across a fail-over.
 */
import type { Redis } from 'ioredis';

export type ClaimResult = 'claimed' | 'duplicate' | 'stale';

export interface LedgerEntry {
  readonly fireAt: number;
  readonly term: number;
  readonly identity: string;
}

export interface RunLedger {
  claim(job: string, fireAt: number, term: number, identity: string): Promise<ClaimResult>;
  /** The latest recorded fire time, or null. */
  lastFire(job: string): Promise<number | null>;
  entries(job: string): Promise<LedgerEntry[]>;
}

export class MemoryRunLedger implements RunLedger {
  readonly #fires = new Map<string, Map<number, LedgerEntry>>();
  readonly #maxTerm = new Map<string, number>();

  claim(job: string, fireAt: number, term: number, identity: string): Promise<ClaimResult> {
    if (term < (this.#maxTerm.get(job) ?? 0)) return Promise.resolve('stale');
    let fires = this.#fires.get(job);
    if (!fires) this.#fires.set(job, (fires = new Map<number, LedgerEntry>()));
    if (fires.has(fireAt)) return Promise.resolve('duplicate');
    fires.set(fireAt, { fireAt, term, identity });
    this.#maxTerm.set(job, Math.max(term, this.#maxTerm.get(job) ?? 0));
    return Promise.resolve('claimed');
  }

  lastFire(job: string): Promise<number | null> {
    const times = [...(this.#fires.get(job)?.keys() ?? [])];
    return Promise.resolve(times.length ? Math.max(...times) : null);
  }

  entries(job: string): Promise<LedgerEntry[]> {
    return Promise.resolve(
      [...(this.#fires.get(job)?.values() ?? [])].sort((a, b) => a.fireAt - b.fireAt),
    );
  }
}

/*
  KEYS[1]  {ledger:<job>}:fires    hash fireAt -> "term|identity"
  KEYS[2]  {ledger:<job>}:maxterm  highest term that claimed a fire
  ARGV[1]  fireAt (ms), ARGV[2] term, ARGV[3] identity
  Returns  1 claimed, 0 duplicate, -1 stale (term below maxterm)
*/
const CLAIM = `
local max = tonumber(redis.call('GET', KEYS[2]) or '0')
local term = tonumber(ARGV[2])
if term < max then return -1 end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3]) == 0 then return 0 end
if term > max then redis.call('SET', KEYS[2], ARGV[2]) end
return 1`;

export class RedisRunLedger implements RunLedger {
  readonly #client: Redis;
  readonly #prefix: string;

  constructor(client: Redis, prefix = 'ledger') {
    this.#client = client;
    this.#prefix = prefix;
  }

  async claim(job: string, fireAt: number, term: number, identity: string): Promise<ClaimResult> {
    const k = this.#keys(job);
    const r = Number(
      await this.#client.eval(CLAIM, 2, k.fires, k.maxTerm, String(fireAt), String(term), identity),
    );
    return r === 1 ? 'claimed' : r === 0 ? 'duplicate' : 'stale';
  }

  async lastFire(job: string): Promise<number | null> {
    const times = (await this.#client.hkeys(this.#keys(job).fires)).map(Number);
    return times.length ? Math.max(...times) : null;
  }

  async entries(job: string): Promise<LedgerEntry[]> {
    const all = await this.#client.hgetall(this.#keys(job).fires);
    return Object.entries(all)
      .map(([fireAt, value]) => {
        const [term = '0', ...rest] = value.split('|');
        return { fireAt: Number(fireAt), term: Number(term), identity: rest.join('|') };
      })
      .sort((a, b) => a.fireAt - b.fireAt);
  }

  #keys(job: string): { fires: string; maxTerm: string } {
    const tag = `{${this.#prefix}:${job}}`;
    return { fires: `${tag}:fires`, maxTerm: `${tag}:maxterm` };
  }
}
