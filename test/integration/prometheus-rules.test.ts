/**
 * deploy/prometheus/tenure-rules.yml with Debian's promtool (package
 * prometheus, installed by scripts/ensure-deps.sh): `promtool check rules`,
 * and `promtool test rules` on deploy/prometheus/tenure-rules.test.yml
 * (synthetic series: each alert fires when it should and not when it should
 * not). A broken copy of the rules must fail the same unit tests, so they
 * can fail.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const PROMTOOL = process.env['TENURE_PROMTOOL'] ?? 'promtool';
const RULES = 'deploy/prometheus/tenure-rules.yml';
const TESTS = 'deploy/prometheus/tenure-rules.test.yml';
const scratch = mkdtempSync(join(tmpdir(), 'tenure-rules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PROMTOOL, args, { timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error(
        `${PROMTOOL} not found: apt-get install prometheus (scripts/ensure-deps.sh)`,
        {
          cause: error,
        },
      );
    return { code: Number(e.code ?? 1), output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('Prometheus rules (promtool)', () => {
  it('promtool check rules: valid', async () => {
    const r = await promtool('check', 'rules', RULES);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code).toBe(0);
  });

  it('promtool test rules: every alert fires on its synthetic series and only there', async () => {
    const r = await promtool('test', 'rules', TESTS);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });

  it('a broken rule (TenureNoLeader on one leader instead of none) fails those unit tests', async () => {
    const broken = readFileSync(RULES, 'utf8').replace(
      'expr: election:tenure_leaders:sum == 0 and',
      'expr: election:tenure_leaders:sum == 1 and',
    );
    expect(broken).not.toBe(readFileSync(RULES, 'utf8'));
    writeFileSync(join(scratch, 'tenure-rules.yml'), broken);
    copyFileSync(TESTS, join(scratch, 'tenure-rules.test.yml'));
    const r = await promtool('test', 'rules', join(scratch, 'tenure-rules.test.yml'));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/TenureNoLeader/);
  });
});
