/**
 * Test-only, never shipped: the `tenure` command line with fixes turned off,
 * for the must-fire rows. argv[2] names them, comma-separated (`threads`,
 * `backstop`; see `withoutFixes` in src/cli/supervisor-protocol.ts); the
 * rest is the command line as `tenure` takes it.
 */
import { withoutFixes } from '../../src/cli/supervisor-protocol.js';

const off = (process.argv[2] ?? '').split(',');
withoutFixes.threads = off.includes('threads');
withoutFixes.backstop = off.includes('backstop');
process.argv.splice(2, 1);
await import('../../src/cli/main.js');
