/** C0 controls (newline and tab included), DEL and C1 controls (U+0080–U+009F). */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, '0');

/**
 * Text from Latch (audit reasons, user agents, usernames: anything a user or an attacker could
 * have typed) made safe for a terminal: every control character becomes a visible escape (`\n`,
 * `\t`, `\x9b`), so a newline cannot forge a table row and an escape sequence (ESC, or the C1
 * CSI U+009B) cannot repaint the analyst's screen. A backslash is doubled, so `\n` typed as two
 * characters still reads differently from an escaped newline.
 */
export function printable(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(CONTROL, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : `\\x${hex(c)}`));
}

/**
 * JSON for `--json`: JSON.stringify escapes C0 controls itself but writes DEL and C1 controls
 * raw; those become `\u00XX` escapes, which parse back to the same value.
 */
export function json(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f]/g, (c) => `\\u00${hex(c)}`);
}

/** Plain-text tables for humans; `--json` bypasses all of this. Every cell is `printable`. */
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
  return printable(String(value));
}

/** One line of text for humans, made `printable` (it may quote what Latch answered). */
export function line(text: string): string {
  return `${printable(text)}\n`;
}

/** A one-line progress bar on a terminal, or a plain line per update when piped. */
export function progress(done: number, total: number, tty: boolean): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  if (!tty) return `cleanup: ${done}/${total}\n`;
  const width = 30;
  const filled = Math.round(ratio * width);
  return `\rcleanup [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}
