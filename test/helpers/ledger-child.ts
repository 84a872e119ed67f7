/**
 * The command `tenure run`/`lock` runs in the CLI tests: appends
 * `<TENURE_TERM> <hrtime ns> <pid>` to the ledger file named by argv[2]
 * every 10 ms until killed (CLOCK_MONOTONIC: comparable across processes).
 * With argv[3] = an exit code, it exits with it after argv[4] ms.
 */
import { appendFileSync } from 'node:fs';

const [file, exitCode, afterMs] = process.argv.slice(2);
const term = process.env['TENURE_TERM'] ?? '0';
const write = (): void =>
  appendFileSync(file as string, `${term} ${process.hrtime.bigint()} ${process.pid}\n`);
write();
setInterval(write, 10);
if (exitCode !== undefined) setTimeout(() => process.exit(Number(exitCode)), Number(afterMs ?? 0));
