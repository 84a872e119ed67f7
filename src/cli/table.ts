/** A plain-text table for terminals: columns padded to their widest cell, long cells cut. */
const MAX_CELL = 60;

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cut = (s: string): string =>
    s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s.replace(/[\n\r\t]/g, ' ');
  const cells = [header, ...rows].map((r) => r.map(cut));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}
