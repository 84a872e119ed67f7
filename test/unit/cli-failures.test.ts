/**
 * The CLI's answers to things going wrong, as pure functions: argument
 * mistakes (did-you-mean, a missing `--`, `--data` that is not JSON), the
 * naming of connection failures, and the restart policy (backoff, give-up
 * after 126/127 or `--max-failures`, rate-limited restart lines).
 */
import { describe, expect, it } from 'vitest';
import { HOLDER_FLAGS, UsageError, nearest, parse } from '../../src/cli/args.js';
import { dataFlag } from '../../src/cli/command-env.js';
import { connectFailure, describeConnectFailure } from '../../src/cli/connect-failure.js';
import { HEALTHY_RUN_MS, MAX_DELAY_MS, Restarts } from '../../src/cli/restarts.js';
import type { CommandExit } from '../../src/cli/supervised-command.js';
import { StoreUnavailableError } from '../../src/errors.js';

const RUN = {
  ...HOLDER_FLAGS,
  restart: { type: 'string' },
  'max-failures': { type: 'string' },
} as const;
const usage = (argv: string[], takesCommand = true): string => {
  try {
    parse(argv, RUN, 'run', takesCommand);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`parse(${JSON.stringify(argv)}) did not throw`);
};

describe('argument mistakes', () => {
  it.each([
    [
      ['e', '--stroe', 'x', '--', 'true'],
      /^Unknown option --stroe for tenure run; did you mean --store\?/,
    ],
    [['e', '--lease', '10', '--', 'true'], /did you mean --lease-ms\?/],
    [['e', '--reStart', 'always', '--', 'true'], /did you mean --restart\?/],
    [['e', '--max-failure', '3', '--', 'true'], /did you mean --max-failures\?/],
  ])('%j suggests the flag meant and points at --help', (argv, message) => {
    const text = usage(argv);
    expect(text).toMatch(message);
    expect(text).toMatch(/\(`tenure run --help` lists the options\)$/);
    expect(text).not.toMatch(/'/); // parseArgs' own text had an unbalanced quote
  });

  it('suggests nothing for a flag far from every known one', () => {
    expect(usage(['e', '--frobnicate', '--', 'true'])).toBe(
      'Unknown option --frobnicate for tenure run (`tenure run --help` lists the options)',
    );
    expect(nearest('x', ['store', 'json'])).toBeNull();
    expect(nearest('', ['store'])).toBeNull();
  });

  it('a missing `--` is named: a flag of the command, or a second word', () => {
    expect(usage(['e', 'sh', '-c', 'x'])).toMatch(/a flag of the command to run goes after `--`/);
    expect(usage(['e', './backup.sh', 'now'])).toBe(
      'Expected one <election>, got 3: "e" "./backup.sh" "now"; put the command to run after `--`: tenure run e [options] -- ./backup.sh now',
    );
    // With `--` present, words before it are the command's business of onePositional.
    expect(parse(['e', '--', 'sh', '-c', 'x'], RUN, 'run', true).command).toEqual([
      'sh',
      '-c',
      'x',
    ]);
  });

  it('a flag that needs a value, or takes none', () => {
    expect(usage(['e', '--restart'])).toBe(
      '--restart needs a value (`tenure run --help` lists the options)',
    );
    expect(usage(['e', '--json=1', '--', 'true'])).toBe(
      '--json takes no value (`tenure run --help` lists the options)',
    );
  });

  it('--data must be JSON; --data-string takes text as it is', () => {
    const data = (...argv: string[]): unknown => dataFlag(parse(argv, RUN, 'run', true));
    expect(data('--data', '{"k":[1]}')).toEqual({ k: [1] });
    expect(data('--data', '"text"')).toBe('text');
    expect(data('--data-string', '{bad')).toBe('{bad');
    expect(data()).toBeUndefined();
    expect(() => data('--data', '{bad')).toThrow(
      /^--data must be JSON \(for plain text use --data-string\), got "\{bad": /,
    );
    expect(() => data('--data', 'hello')).toThrow(UsageError);
    expect(() => data('--data', '1', '--data-string', 'x')).toThrow(/not both/);
  });
});

describe('connection failures are named', () => {
  const errno = (code: string, message: string): Error =>
    Object.assign(new Error(message), { code });

  it.each([
    [errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 'refused', false],
    [errno('ENOTFOUND', 'getaddrinfo ENOTFOUND db.invalid'), 'dns', true],
    [errno('EAI_AGAIN', 'getaddrinfo EAI_AGAIN db'), 'unreachable', false],
    [errno('EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.1:6379'), 'unreachable', false],
    [new Error('WRONGPASS invalid username-password pair or user is disabled.'), 'auth', true],
    [new Error('NOAUTH Authentication required.'), 'auth', true],
    [errno('28P01', 'password authentication failed for user "x"'), 'auth', true],
    [
      new Error('14 UNAVAILABLE: Name resolution failed for target dns:db.invalid:2379'),
      'dns',
      true,
    ],
    [
      new Error(
        '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.',
      ),
      'refused',
      false,
    ],
    [
      new Error('All sentinels are unreachable. Retrying from scratch after 10ms.'),
      'unreachable',
      false,
    ],
  ] as const)('%s → %s', (error, kind, definite) => {
    expect(connectFailure(error)).toMatchObject({ kind, definite });
  });

  it('looks through cause, lastNodeError and errors, and names the kind first', () => {
    const wrapped = new StoreUnavailableError('PostgreSQL unreachable during `read`', {
      cause: errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5'),
      ambiguous: false,
    });
    const failure = connectFailure(wrapped);
    expect(failure?.kind).toBe('refused');
    expect(describeConnectFailure(failure!)).toBe(
      'connection refused (connect ECONNREFUSED 127.0.0.1:5)',
    );
    const cluster = Object.assign(new Error('Failed to refresh slots cache.'), {
      lastNodeError: new Error('WRONGPASS invalid username-password pair'),
    });
    expect(connectFailure(cluster)?.kind).toBe('auth');
    const aggregate = new AggregateError(
      [errno('ENOTFOUND', 'getaddrinfo ENOTFOUND x')],
      'all failed',
    );
    expect(connectFailure(aggregate)?.kind).toBe('dns');
  });

  it('a timeout or any other error is not a connection failure', () => {
    expect(connectFailure(new Error('Store did not answer `read` within 5000 ms'))).toBeNull();
    expect(connectFailure('ECONNREFUSED')).toBeNull(); // not an error object
    const loop: Error & { cause?: unknown } = new Error('x');
    loop.cause = loop;
    expect(connectFailure(loop)).toBeNull();
  });
});

describe('restart policy', () => {
  const exited = (code: number | null, signal: NodeJS.Signals | null = null): CommandExit => ({
    code,
    signal,
    cause: null,
  });
  const byDeadline: CommandExit = { code: null, signal: 'SIGTERM', cause: 'deadline' };
  const make = (mode: 'always' | 'on-failure' | 'never', maxFailures = 5, firstDelayMs = 1000) => {
    let now = 0;
    const restarts = new Restarts({ mode, firstDelayMs, maxFailures }, () => now);
    return { restarts, advance: (ms: number) => (now += ms) };
  };

  it('a command that cannot be started gives up leadership at once, under every policy that restarts', () => {
    const spawnFailed = (code: number): CommandExit => ({ code, signal: null, cause: 'spawn' });
    for (const mode of ['always', 'on-failure'] as const) {
      for (const code of [126, 127]) {
        const next = make(mode).restarts.next(spawnFailed(code), 5);
        expect(next).toMatchObject({ kind: 'give-up', status: code });
        expect(next.kind === 'give-up' && next.why).toMatch(
          code === 126 ? /cannot be started \(exit code 126: not executable\)/ : /127: not found/,
        );
      }
    }
    expect(make('never').restarts.next(spawnFailed(127), 5)).toEqual({ kind: 'end', status: 127 });
    // --max-failures 0 never gives up, not even then.
    expect(make('always', 0).restarts.next(spawnFailed(127), 5).kind).toBe('restart');
    // A 127 that the command's own shell reported after it started is an ordinary failure.
    expect(make('always', 3).restarts.next(exited(127), 5).kind).toBe('restart');
  });

  it('gives up after --max-failures failures in a row; a success or a healthy run starts the count again', () => {
    const { restarts } = make('always', 3);
    expect(restarts.next(exited(1), 10).kind).toBe('restart');
    expect(restarts.next(exited(1), 10).kind).toBe('restart');
    expect(restarts.next(exited(0), 10).kind).toBe('restart'); // a success: count back to 0
    expect(restarts.next(exited(1), 10).kind).toBe('restart');
    expect(restarts.next(exited(2), HEALTHY_RUN_MS).kind).toBe('restart'); // ran long: 1 again
    expect(restarts.next(exited(null, 'SIGSEGV'), 10).kind).toBe('restart');
    expect(restarts.next(exited(3), 10)).toMatchObject({
      kind: 'give-up',
      status: 3,
      why: 'the command failed 3 times in a row (--max-failures 3)',
    });
  });

  it('--max-failures 0 never gives up; a new term starts the count again', () => {
    const forever = make('on-failure', 0).restarts;
    for (let i = 0; i < 50; i++) expect(forever.next(exited(1), 1).kind).toBe('restart');
    const { restarts } = make('on-failure', 2);
    expect(restarts.next(exited(1), 1).kind).toBe('restart');
    restarts.newTerm();
    expect(restarts.next(exited(1), 1).kind).toBe('restart');
    expect(restarts.next(exited(1), 1).kind).toBe('give-up');
  });

  it('backs off from --restart-delay-ms doubling to 30 s, after quick successes too; a healthy run resets it', () => {
    const { restarts } = make('always', 0, 1000);
    const delays = Array.from({ length: 7 }, () => {
      const next = restarts.next(exited(0), 10);
      return next.kind === 'restart' ? next.delayMs : -1;
    });
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, MAX_DELAY_MS, MAX_DELAY_MS]);
    expect(restarts.next(exited(0), HEALTHY_RUN_MS)).toEqual({ kind: 'restart', delayMs: 1000 });
    const zero = make('always', 0, 0).restarts;
    expect([0, 1, 2].map(() => (zero.next(exited(0), 1) as { delayMs: number }).delayMs)).toEqual([
      0, 1, 2,
    ]);
  });

  it('a stop by the deadline schedule waits for a renewal and is not a failure', () => {
    const { restarts } = make('on-failure', 1);
    for (let i = 0; i < 5; i++)
      expect(restarts.next(byDeadline, 1)).toEqual({ kind: 'after-renewal' });
    expect(restarts.failures).toBe(0);
  });

  it('logs at most one restart per second in full and counts the others', () => {
    const { restarts, advance } = make('always');
    expect(restarts.announce()).toBe(0);
    advance(300);
    expect(restarts.announce()).toBeNull();
    advance(300);
    expect(restarts.announce()).toBeNull();
    advance(400);
    expect(restarts.announce()).toBe(2);
    expect(restarts.announce()).toBeNull();
  });
});
