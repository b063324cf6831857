/** Plain-text tables for the terminal: columns padded, numbers right-aligned. */
export type Cell = string | number | null | undefined;

export interface TableOptions {
  /** Digits after the point for numbers (default 2). */
  digits?: number;
}

function formatNumber(v: number, digits = 2): string {
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(digits);
}

export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[], opts: TableOptions = {}): string {
  const digits = opts.digits ?? 2;
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '—' : typeof c === 'number' ? formatNumber(c, digits) : c)));
  const numeric = headers.map((_, j) => rows.length > 0 && rows.every((r) => typeof r[j] === 'number' || r[j] === null || r[j] === undefined));
  const width = headers.map((h, j) => Math.max([...h].length, ...text.map((r) => [...(r[j] ?? '')].length)));
  const pad = (s: string, j: number): string => {
    const fill = ' '.repeat(Math.max(0, width[j]! - [...s].length));
    return numeric[j] ? fill + s : s + fill;
  };
  const lines = [headers.map(pad).join('  '), width.map((w) => '-'.repeat(w)).join('  '), ...text.map((r) => headers.map((_, j) => pad(r[j] ?? '', j)).join('  '))];
  return lines.map((l) => l.trimEnd()).join('\n');
}

