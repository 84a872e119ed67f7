/** `--store` URL parsing and the kill-schedule timing rules of the CLI. */
import { describe, expect, it } from 'vitest';
import { UsageError, parse } from '../../src/cli/args.js';
import { resolveKillTiming } from '../../src/cli/kill-timing.js';
import { parseStoreUrl } from '../../src/cli/store-url.js';

describe('parseStoreUrl', () => {
  it.each([
    [
      'redis://127.0.0.1:7000',
      { kind: 'redis', tls: false, hosts: [{ host: '127.0.0.1', port: 7000 }], db: 0 },
    ],
    ['redis://localhost', { kind: 'redis', hosts: [{ host: 'localhost', port: 6379 }] }],
    [
      'rediss://u:p%40ss@cache.internal:6380/2',
      { kind: 'redis', tls: true, username: 'u', password: 'p@ss', db: 2 },
    ],
    ['redis://[::1]:7000', { hosts: [{ host: '::1', port: 7000 }] }],
    [
      'redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2/mymaster/3?sentinelPassword=s&waitReplicas=2',
      {
        kind: 'sentinel',
        password: 'pw',
        master: 'mymaster',
        db: 3,
        hosts: [
          { host: '10.0.0.1', port: 26379 },
          { host: '10.0.0.2', port: 26379 },
        ],
        params: { sentinelPassword: 's', waitReplicas: '2' },
      },
    ],
    [
      'redis+cluster://a:7000,b:7001',
      {
        kind: 'cluster',
        hosts: [
          { host: 'a', port: 7000 },
          { host: 'b', port: 7001 },
        ],
      },
    ],
    [
      'postgres://app:secret@db:5433/leases?sslmode=require',
      { kind: 'postgres', raw: 'postgres://app:secret@db:5433/leases?sslmode=require' },
    ],
    ['postgresql:///leases?host=/var/run/postgresql', { kind: 'postgres', hosts: [] }],
    [
      'etcd://e1:2379,e2:2379,e3',
      {
        kind: 'etcd',
        tls: false,
        hosts: [
          { host: 'e1', port: 2379 },
          { host: 'e2', port: 2379 },
          { host: 'e3', port: 2379 },
        ],
      },
    ],
    ['etcds://root:pw@e1:2379', { kind: 'etcd', tls: true, username: 'root', password: 'pw' }],
  ])('%s', (url, expected) => {
    expect(parseStoreUrl(url)).toMatchObject(expected);
  });

  it.each([
    ['redis://u:hunter2@h:1/0', 'redis://u:***@h:1/0'],
    [
      'redis+sentinel://:hunter2@h:1/m?sentinelPassword=hunter2',
      'redis+sentinel://:***@h:1/m?sentinelPassword=***',
    ],
    ['postgres://app:hunter2@db/x?password=hunter2', 'postgres://app:***@db/x?password=***'],
    ['etcd://h:1', 'etcd://h:1'],
    ['redis://user:s3cr@et@h:1', 'redis://user:***@h:1'],
    ['redis://user:s3cr/et?x@h:1', 'redis://user:***@h:1'],
    [
      'postgres://h:1/db?sslpassword=s3cret&sslmode=require',
      'postgres://h:1/db?sslpassword=***&sslmode=require',
    ],
  ])('displays %s without its password', (url, display) => {
    expect(parseStoreUrl(url).display).toBe(display);
  });

  it.each([
    ['http://h:1', /Unsupported store URL/],
    ['memory://', /inside one process/],
    ['redis://', /names no host/],
    ['redis://a:1,b:2', /names one server/],
    ['redis://h:99999', /Bad host/],
    ['redis://h:1/db', /must be a number/],
    ['redis://h:1?waitReplica=1', /Unknown store URL parameter "waitReplica"/],
    ['redis+sentinel://h:1', /needs the primary’s name/],
    ['redis+cluster://h:1/x', /takes no path/],
    ['etcd://h:1?x=1', /Unknown store URL parameter "x" for etcd/],
    ['nonsense', /Unsupported store URL/],
    ['ftp://u:hunter2@h', /Unsupported store URL "ftp:\/\/\*\*\*@h"/],
    ['redis:/user:hunter2@h:1', /Unsupported store URL "redis:\/\*\*\*@h:1"/],
    ['mysql://user:hun/ter2@h', /Unsupported store URL "mysql:\/\/\*\*\*@h"/],
    ['redis://u:s%zz@h', /malformed %-escape/],
    ['redis+sentinel://h:1/%zz', /malformed %-escape/],
    ['redis://h/0/junk/more', /path is \/<db>/],
    [
      '"redis://u:hunter2@127.0.0.1:1"',
      /Unsupported store URL "\\"redis:\/\/\*\*\*@127\.0\.0\.1:1\\""/,
    ],
    ['//u:hunter2@h', /Unsupported store URL "\*\*\*@h"/],
    ['redis+sentinel://h:1/m/0/x', /path is \/<master>\[\/<db>\]/],
  ])('rejects %s', (url, message) => {
    expect(() => parseStoreUrl(url)).toThrow(UsageError);
    expect(() => parseStoreUrl(url)).toThrow(message);
    for (const secret of ['hunter2', 'hun', 'ter2'])
      expect(() => parseStoreUrl(url)).not.toThrow(secret);
  });
});

describe('resolveKillTiming', () => {
  const timing = (...args: string[]): ReturnType<typeof resolveKillTiming> =>
    resolveKillTiming(
      parse(args, {
        'lease-ms': { type: 'string' },
        'renew-ms': { type: 'string' },
        'grace-ms': { type: 'string' },
        'kill-margin-ms': { type: 'string' },
      }),
      2000,
    );

  it('defaults: 15 s lease, renew every 5 s, the longest grace the lease allows', () => {
    // (15000 − 152 drift) − 5000 renew − 5000 request timeout − 50 poll − 250 margin
    expect(timing()).toMatchObject({
      lease: { ttlMs: 15_000, renewMs: 5_000 },
      graceMs: 4_548,
      killMarginMs: 250,
    });
  });

  it('caps the default grace at 10 s', () => {
    expect(timing('--lease-ms', '90000').graceMs).toBe(10_000);
  });

  it('SIGTERM never starts before a slow renewal could confirm', () => {
    const t = timing('--lease-ms', '3000');
    const startOfSchedule = t.lease.ttlMs - t.lease.driftMs - t.killMarginMs - t.graceMs;
    expect(startOfSchedule).toBeGreaterThanOrEqual(t.lease.renewMs + t.lease.requestTimeoutMs + 50);
    expect(timing('--lease-ms', '3000', '--grace-ms', String(t.graceMs)).graceMs).toBe(t.graceMs);
    expect(() => timing('--lease-ms', '3000', '--grace-ms', String(t.graceMs + 1))).toThrow(
      /--grace-ms \d+ is too long for --lease-ms 3000/,
    );
  });

  it('names the flags, not the library options', () => {
    expect(() => timing('--lease-ms', '3000', '--renew-ms', '2000')).toThrow(
      /--renew-ms ≤ \(--lease-ms − drift\) \/ 2/,
    );
    expect(() => timing('--lease-ms', '300')).toThrow(/leaves no time to stop the command/);
    expect(() => timing('--lease-ms=-5')).toThrow(/--lease-ms must be an integer/);
  });
});
