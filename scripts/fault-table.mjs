// Prints the results table of the last fault-suite run (.tmp/fault-summary.jsonl) as Markdown.
import { readFileSync } from 'node:fs';

const rows = readFileSync('.tmp/fault-summary.jsonl', 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
console.log(
  '| scenario | overlaps | containment / fencing / resurrection violations | worst step-down after its deadline | first fault to next election |',
);
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const name = r.name.replace(/^.*> /, '');
  const v = `${r.containment} / ${r.fencing} / ${r.resurrection}`;
  console.log(
    `| ${name}${r.mustFire ? ' *(must fire)*' : ''} | ${r.overlaps} | ${v} | ${r.worstStepDownLateMs} ms | ${r.faultToNextLeaderMs === null ? '—' : `${r.faultToNextLeaderMs} ms`} |`,
  );
}
