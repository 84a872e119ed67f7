/** Appends JSON lines with hrtime stamps to a file, synchronously, so a SIGKILL loses nothing written. */
import { appendFileSync } from 'node:fs';

export class Recorder {
  readonly #file: string;
  readonly #proc: string;

  constructor(file: string, proc: string) {
    this.#file = file;
    this.#proc = proc;
  }

  write(event: Record<string, unknown>): void {
    appendFileSync(
      this.#file,
      `${JSON.stringify({ t: process.hrtime.bigint().toString(), proc: this.#proc, ...event })}\n`,
    );
  }
}

/**
 * `performance.now()` and `process.hrtime` read the same monotonic clock with
 * different origins. The offset is calibrated once (the smallest difference of
 * back-to-back reads, so a preemption between two reads cannot inflate it) and
 * then converts a monotonic-ms point exactly, with no second clock read that a
 * busy machine could delay.
 */
const OFFSET_NS = (() => {
  let best: bigint | undefined;
  for (let i = 0; i < 2000; i++) {
    const p = performance.now();
    const h = process.hrtime.bigint();
    const d = h - BigInt(Math.round(p * 1e6));
    if (best === undefined || d < best) best = d;
  }
  return best as bigint;
})();

/** hrtime (ns, as a decimal string) of the monotonic point `ms` (performance.now() scale). */
export function hrtimeAt(ms: number): string {
  return (OFFSET_NS + BigInt(Math.round(ms * 1e6))).toString();
}
