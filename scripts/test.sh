#!/usr/bin/env bash
# Runs the whole test suite (unit, conformance, integration against private
# redis-servers) and ends with the line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund || exit 1
bash scripts/ensure-deps.sh || exit 1
mkdir -p .tmp
rm -f .tmp/vitest.json .tmp/fault-summary.jsonl
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@"
status=$?
if [ ! -f .tmp/vitest.json ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
node -e '
const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"));
const skipped = r.numPendingTests + r.numTodoTests;
// A skipped test is not a passing one: under CI, skips fail the run.
const failed = r.numFailedTests + (process.env.CI === "true" ? skipped : 0) + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? 1 : 0);
console.log(`${r.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
process.exit(failed > 0 ? 1 : 0);
'
node_status=$?
[ $status -ne 0 ] && exit $status
exit $node_status
