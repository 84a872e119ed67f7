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

/** hrtime (ns, as a decimal string) of a point `msFromNow` milliseconds from now. */
export function hrtimeIn(msFromNow: number): string {
  return (process.hrtime.bigint() + BigInt(Math.round(msFromNow * 1e6))).toString();
}
