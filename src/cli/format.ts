/** Plain-text tables for humans; `--json` bypasses all of this. */
export function table(rows: Array<Record<string, unknown>>, columns: Array<[key: string, title: string]>): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((row) => columns.map(([key]) => cell(row[key])));
  const widths = columns.map(([, title], i) => Math.max(title.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map(([, t]) => t.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (typeof value === 'number' && value > 1e12) return new Date(value).toISOString().replace('T', ' ').slice(0, 19);
  return String(value);
}

/** A one-line progress bar on a terminal, or a plain line per update when piped. */
export function progress(done: number, total: number, tty: boolean): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  if (!tty) return `cleanup: ${done}/${total}\n`;
  const width = 30;
  const filled = Math.round(ratio * width);
  return `\rcleanup [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}
