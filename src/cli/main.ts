#!/usr/bin/env node
/**
 * The `tenure` command line: `run`, `lock`, `status`, `observe`, `init`.
 * User mistakes end as one line on stderr and exit 64, store failures as one
 * line and exit 69; a stack trace only for internal errors with --verbose.
 */
import { ConfigurationError, InvalidOptionError, StoreError } from '../errors.js';
import { UsageError, parse } from './args.js';
import { StoreFailure } from './context.js';
import { EXIT, signalExitCode } from './exit-codes.js';
import { setSignalExit } from './shutdown.js';
import { HELP } from './help.js';
import { MissingPackageError } from './open-store.js';
import { INIT_FLAGS, init } from './commands/init.js';
import { LOCK_FLAGS, lock } from './commands/lock.js';
import { OBSERVE_FLAGS, observe } from './commands/observe.js';
import { RUN_FLAGS, run } from './commands/run.js';
import { STATUS_FLAGS, status } from './commands/status.js';

const COMMANDS = {
  run: { flags: RUN_FLAGS, main: run, takesCommand: true },
  lock: { flags: LOCK_FLAGS, main: lock, takesCommand: true },
  status: { flags: STATUS_FLAGS, main: status },
  observe: { flags: OBSERVE_FLAGS, main: observe },
  init: { flags: INIT_FLAGS, main: init },
} as const;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${HELP['main']}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS[name as keyof typeof COMMANDS] as
    (typeof COMMANDS)[keyof typeof COMMANDS] | undefined;
  if (command === undefined)
    throw new UsageError(
      `Unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')}`,
    );
  // A signal before the command is under way exits at once: 0 for run and observe (a
  // shutdown, as later), 128 + n for the others.
  setSignalExit((signal) =>
    name === 'run' || name === 'observe' ? EXIT.ok : signalExitCode(signal),
  );
  const parsed = parse(rest, command.flags, name, 'takesCommand' in command);
  if (parsed.command !== null && !('takesCommand' in command))
    throw new UsageError(`${name} runs no command: remove everything from \`--\` on`);
  if (parsed.values['help'] === true) {
    process.stdout.write(`${HELP[name]}\n`);
    return EXIT.ok;
  }
  return command.main(parsed);
}

function report(error: unknown, verbose: boolean): number {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError || error instanceof InvalidOptionError) {
    process.stderr.write(`tenure: ${message}\n`);
    return EXIT.usage;
  }
  if (error instanceof StoreFailure) {
    process.stderr.write(`tenure: ${message}\n`);
    return error.exitCode;
  }
  if (
    error instanceof MissingPackageError ||
    error instanceof StoreError ||
    error instanceof ConfigurationError
  ) {
    process.stderr.write(`tenure: ${message}\n`);
    return EXIT.unavailable;
  }
  process.stderr.write(
    `tenure: internal error: ${verbose && error instanceof Error ? error.stack : message}\n`,
  );
  return EXIT.internal;
}

// A reader that goes away (`tenure … 2>&1 | head -1`) must not crash tenure with EPIPE
// before it has stopped the command and released the lease: its output is lost, nothing else.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

const argv = process.argv.slice(2);
const own = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
main(argv).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error, own.includes('--verbose') || own.includes('-v'))),
);
