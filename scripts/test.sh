#!/usr/bin/env bash
# Runs the whole test suite and ends with the line `N passed, N failed`:
# first unit, conformance and integration tests (private redis-servers, in
# parallel), then the fault suite alone (real processes and timing bounds:
# nothing else may compete for the two cores while it runs).
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund || exit 1
bash scripts/ensure-deps.sh || exit 1
mkdir -p .tmp
rm -f .tmp/vitest-*.json .tmp/fault-summary.jsonl
if [ $# -gt 0 ]; then
  npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-args.json "$@"
  status=$?
else
  npx vitest run --project unit --project integration --reporter=default --reporter=json --outputFile.json=.tmp/vitest-main.json
  s1=$?
  npx vitest run --project fault --reporter=default --reporter=json --outputFile.json=.tmp/vitest-fault.json
  s2=$?
  status=$(( s1 != 0 ? s1 : s2 ))
fi
node -e '
const fs = require("fs");
const files = fs.readdirSync(".tmp").filter((f) => /^vitest-.*\.json$/.test(f));
let passed = 0, failed = 0, skipped = 0, suites = 0;
for (const f of files) {
  const r = JSON.parse(fs.readFileSync(".tmp/" + f, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) suites++;
}
if (files.length === 0) failed = 1;
// A skipped test is not a passing one: under CI, skips fail the run.
failed += suites + (process.env.CI === "true" ? skipped : 0);
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
process.exit(failed > 0 ? 1 : 0);
'
node_status=$?
[ "$status" -ne 0 ] && exit "$status"
exit $node_status
