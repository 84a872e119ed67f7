import type { LeadershipRecord, RevokeReason } from './events.js';

/** A bounded list of the leaderships this elector observed, oldest first. */
export class LeadershipHistory {
  readonly #limit: number;
  readonly #records: LeadershipRecord[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  get records(): readonly LeadershipRecord[] {
    return this.#records.map((r) => ({ ...r }));
  }

  /** A new leadership was seen; the previous open one (if any) ends as `replaced`. */
  begin(identity: string, term: number): void {
    this.end('replaced');
    if (this.#limit === 0) return;
    this.#records.push({ identity, term, from: Date.now(), to: null, reason: null });
    if (this.#records.length > this.#limit) this.#records.shift();
  }

  /** The open leadership ended. */
  end(reason: RevokeReason | 'replaced' | 'vacated'): void {
    const last = this.#records.at(-1);
    if (!last || last.to !== null) return;
    last.to = Date.now();
    last.reason = reason;
  }
}
