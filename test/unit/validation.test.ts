import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { resolveLockOptions } from '../../src/lock/lock-options.js';
import { Elector } from '../../src/election/elector.js';
import { Locker } from '../../src/lock/locker.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';

const cycle: Record<string, unknown> = {};
cycle['self'] = cycle;

// [options, option named in the error, fragment of the message]
const badLockOptions: [string, unknown, string][] = [
  ['ttlMs', { ttlMs: NaN }, 'got NaN'],
  ['ttlMs', { ttlMs: Infinity }, 'got Infinity'],
  ['ttlMs', { ttlMs: -1 }, 'got -1'],
  ['ttlMs', { ttlMs: 0 }, 'got 0'],
  ['ttlMs', { ttlMs: 1.5 }, 'got 1.5'],
  ['ttlMs', { ttlMs: '1000' }, 'got "1000"'],
  ['ttlMs', { ttlMs: 1000n }, 'got 1000n'],
  ['ttlMs', { ttlMs: 99 }, 'from 100 to 2147483647'],
  ['ttlMs', { ttlMs: 2 ** 31 }, 'got 2147483648'],
  ['renewMs', { ttlMs: 3000, renewMs: 5000 }, 'Expected `renewMs` < `ttlMs`, got 5000 >= 3000'],
  ['renewMs', { ttlMs: 1000, renewMs: 1000 }, 'got 1000 >= 1000'],
  [
    'renewMs',
    { ttlMs: 1000, renewMs: 600 },
    '(`ttlMs` − drift) / 2 = 494 for ttlMs 1000 (two renewal attempts before the deadline), got 600',
  ],
  ['renewMs', { ttlMs: 1000, renewMs: 495 }, 'got 495'],
  ['renewMs', { renewMs: 5 }, 'got 5'],
  ['retryMs', { retryMs: 0 }, 'got 0'],
  ['retryJitterMs', { retryJitterMs: -1 }, 'got -1'],
  ['retryLimit', { retryLimit: -1 }, 'got -1'],
  ['retryLimit', { retryLimit: 1.5 }, 'got 1.5'],
  ['driftFactor', { driftFactor: -0.1 }, 'got -0.1'],
  ['driftFactor', { driftFactor: 1 }, 'got 1'],
  ['driftFactor', { driftFactor: NaN }, 'got NaN'],
  ['requestTimeoutMs', { ttlMs: 1000, requestTimeoutMs: 988 }, '`ttlMs` − drift = 988, got 988'],
  ['requestTimeoutMs', { requestTimeoutMs: 0 }, 'got 0'],
  ['data', { data: cycle }, 'JSON-serializable'],
  ['data', { data: 1n }, 'JSON-serializable'],
  ['data', { data: 'x'.repeat(70_000) }, 'at most 65536 bytes'],
  ['signal', { signal: {} }, 'AbortSignal'],
  ['ttl', { ttl: 1000 }, 'did you mean `ttlMs`?'],
  ['refresh', { refresh: 1000 }, 'did you mean `renewMs`?'],
  ['refreshMs', { refreshMs: 1000 }, 'it was renamed to `renewMs`'],
  ['options', 'fast', 'to be an object, got "fast"'],
  ['options', null, 'got null'],
  ['options', [], 'got an array'],
];

describe('lock options validation', () => {
  // [option named in the error, options, fragment of the message]
  it.each(badLockOptions)('rejects a bad `%s` (case %#)', (option, options, fragment) => {
    let error: unknown;
    try {
      resolveLockOptions(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).code).toBe('TENURE_INVALID_OPTION');
    expect((error as InvalidOptionError).option).toBe(option);
    expect((error as Error).message).toContain(fragment);
  });

  it('ignores inherited properties (no prototype injection)', () => {
    const resolved = resolveLockOptions(Object.create({ ttlMs: 5 }) as object);
    expect(resolved.timing.ttlMs).toBe(30_000);
  });

  it('derives defaults: drift = ceil(0.01 × ttl) + 2, refresh = ttl / 3, request timeout = refresh', () => {
    const { timing } = resolveLockOptions({ ttlMs: 1000 });
    expect(timing).toMatchObject({
      ttlMs: 1000,
      driftMs: 12,
      renewMs: 333,
      requestTimeoutMs: 333,
    });
  });
});

const badNames: [unknown, string][] = [
  [undefined, 'to be a string, got undefined'],
  [null, 'got null'],
  [42, 'got 42'],
  [Buffer.from('a'), 'got a Buffer'],
  [Symbol('x'), 'got Symbol(x)'],
  [{}, 'got an object'],
  ['', '1 to 200 characters long, got 0'],
  ['   ', 'more than whitespace'],
  ['a\nb', 'no control characters'],
  ['job{1}', 'no `{` or `}`'],
  ['x'.repeat(201), 'got 201 characters'],
  // Encoded as U+FFFD, both would name the key of 'x\uFFFD'.
  ['x\uD800', 'no lone surrogate'],
  ['\uDC00x', 'no lone surrogate'],
];

describe('name validation', () => {
  const locker = new Locker(new MemoryLeaseStore());
  it('accepts a surrogate pair', async () => {
    const lock = await locker.tryLock('job \uD83D\uDE00');
    expect(lock).not.toBeNull();
    await lock?.release();
  });
  it.each(badNames)('rejects name %s', async (name, fragment) => {
    await expect(locker.tryLock(name as string)).rejects.toThrow(fragment);
    await expect(locker.lock(name as string)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(locker.get(name as string)).rejects.toBeInstanceOf(InvalidOptionError);
  });
});

describe('Locker and store construction', () => {
  it('rejects a missing or wrong store', () => {
    expect(() => new Locker(undefined as never)).toThrow('Expected `store`');
    expect(() => new Locker({} as never)).toThrow('Expected `store`');
  });

  it.each([
    [{ identity: '' }, 'identity'],
    [{ identity: 'x'.repeat(129) }, 'identity'],
    [{ identity: 7 }, 'identity'],
    [{ requestTimeoutMs: 0 }, 'requestTimeoutMs'],
    [{ identiy: 'a' }, 'identiy'],
  ])('rejects Locker options (case %#)', (options, option) => {
    expect(() => new Locker(new MemoryLeaseStore(), options as never)).toThrow(
      expect.objectContaining({ option }),
    );
  });

  it.each([
    [{}, 'Expected `client` to be an ioredis Redis or Cluster instance, got undefined'],
    [{ client: {} }, 'got an object (plain)'],
    [
      { client: { evalsha() {}, eval() {}, duplicate() {}, status: 'end' } },
      'status "end" (was quit() called?)',
    ],
    [
      { client: { evalsha() {}, eval() {}, duplicate() {}, status: 'ready' }, namespace: 'a{b}' },
      'no `{` or `}`',
    ],
    [
      { client: { evalsha() {}, eval() {}, duplicate() {}, status: 'ready' }, namespace: '' },
      '1 to 100 characters',
    ],
    [
      { client: { evalsha() {}, eval() {}, duplicate() {}, status: 'ready' }, prefix: 'x' },
      'Unknown option `prefix`',
    ],
  ])('rejects RedisLeaseStore options %#', (options, fragment) => {
    expect(() => new RedisLeaseStore(options as never)).toThrow(fragment);
  });

  const client = { evalsha() {}, eval() {}, duplicate() {}, pipeline() {}, status: 'ready' };
  it.each([
    ['waitReplicas', -1],
    ['waitReplicas', 1.5],
    ['waitTimeoutMs', 0],
    ['quarantineMs', -1],
    ['handoffMs', -1],
    ['handoffMs', '50'],
    ['handoffMs', 60_001],
  ])('rejects RedisLeaseStore %s = %j with an error naming it and the value', (option, value) => {
    expect(() => new RedisLeaseStore({ client, [option]: value } as never)).toThrow(
      expect.objectContaining({ code: 'TENURE_INVALID_OPTION', option }),
    );
    expect(() => new RedisLeaseStore({ client, [option]: value } as never)).toThrow(
      JSON.stringify(value),
    );
  });

  it.each([[-1], [0.5], ['50']])('rejects MemoryLeaseStore handoffMs = %j', (value) => {
    expect(() => new MemoryLeaseStore({ handoffMs: value as never })).toThrow(
      expect.objectContaining({ code: 'TENURE_INVALID_OPTION', option: 'handoffMs' }),
    );
  });
});

describe('OwnershipToken', () => {
  it('is 128 random bits, fresh each time, and never shown by toString, JSON or inspect', () => {
    const a = OwnershipToken.generate();
    const b = OwnershipToken.generate();
    expect(a.reveal()).not.toBe(b.reveal());
    expect(Buffer.from(a.reveal(), 'base64url')).toHaveLength(16);
    const shown = [
      String(a),
      JSON.stringify({ a }),
      inspect(a),
      inspect({ nested: { a } }, { depth: 5 }),
    ].join(' ');
    expect(shown).not.toContain(a.reveal());
    expect(shown).toContain(a.fingerprint);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('Elector options validation', () => {
  const store = new MemoryLeaseStore();
  const base = { store, election: 'cron' };
  it.each([
    ['renewMs', { ttlMs: 3000, renewMs: 5000 }, 'Expected `renewMs` < `ttlMs`, got 5000 >= 3000'],
    ['renewMs', { ttlMs: 1000, renewMs: 600 }, '(`ttlMs` − drift) / 2 = 494 for ttlMs 1000'],
    [
      'requestTimeoutMs',
      { ttlMs: 1000, renewMs: 250, requestTimeoutMs: 988 },
      '`ttlMs` − drift = 988, got 988',
    ],
    ['ttlMs', { ttlMs: 2 ** 31 }, 'got 2147483648'],
    ['ttlMs', { ttlMs: '15000' }, 'got "15000"'],
    ['retryMs', { retryMs: 5 }, 'got 5'],
    ['retryJitterMs', { retryJitterMs: -1 }, 'got -1'],
    ['driftFactor', { driftFactor: 0.5 }, 'got 0.5'],
    ['election', { election: 'a{b}' }, 'no `{` or `}`'],
    ['election', { election: undefined }, 'to be a string, got undefined'],
    ['store', { store: {} }, 'Expected `store` to be a LeaseStore'],
    ['campaign', { campaign: 'yes' }, 'to be a boolean, got "yes"'],
    ['logger', { logger: { info() {} } }, 'to have a debug() method'],
    ['metrics', { metrics: {} }, 'MetricsProvider'],
    ['historyLimit', { historyLimit: -1 }, 'got -1'],
    ['data', { data: 1n }, 'JSON-serializable'],
    ['lease', { lease: 1000 }, 'did you mean `ttlMs`?'],
    ['leaseMs', { leaseMs: 1000 }, 'it was renamed to `ttlMs`'],
  ])('rejects a bad `%s` (case %#)', (option, extra, fragment) => {
    expect(() => new Elector({ ...base, ...extra } as never)).toThrow(
      expect.objectContaining({ option, message: expect.stringContaining(fragment) as string }),
    );
  });

  it('rejects a missing options object and a non-function listener', () => {
    expect(() => new Elector(undefined as never)).toThrow(InvalidOptionError);
    expect(() => new Elector(base).on('elected', 'x' as never)).toThrow(
      'listener to be a function',
    );
  });
});
