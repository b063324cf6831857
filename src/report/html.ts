/**
 * HTML building blocks of the reports: escaping, tables, the page shell. A
 * report is one file that opens offline: no scripts, no external resources
 * (the Content-Security-Policy forbids them, so a slip shows as an error in the
 * browser's console), charts as inline SVG, images as data URIs.
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export type CellValue = string | number | null | undefined | { html: string };

function cell(v: CellValue): string {
  if (v === null || v === undefined) return '<td class="na">—</td>';
  if (typeof v === 'number') return `<td class="num">${Number.isInteger(v) ? v : v.toFixed(2)}</td>`;
  if (typeof v === 'object') return `<td>${v.html}</td>`;
  return `<td>${escapeHtml(v)}</td>`;
}

export function table(headers: readonly string[], rows: readonly (readonly CellValue[])[], caption?: string): string {
  const head = `<tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n');
  return `<table>${caption ? `<caption>${escapeHtml(caption)}</caption>` : ''}\n${head}\n${body}\n</table>`;
}

/** "12.5 % [8.1, 18.3]" */
export function pctCi(v: number | null, ci?: readonly [number, number] | null): string {
  if (v === null) return 'n/a';
  return ci ? `${v.toFixed(1)} % [${ci[0].toFixed(1)}, ${ci[1].toFixed(1)}]` : `${v.toFixed(1)} %`;
}

export interface Section {
  id: string;
  title: string;
  html: string;
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}td.na{color:#999}caption{text-align:left;font-weight:600;padding:.3em 0}
code,pre{background:#f5f5f5;padding:0 .2em;font-size:12px}pre{padding:.5em;white-space:pre-wrap}
figure.chart{margin:1em 0 2em;overflow-x:auto}figure.chart figcaption{font-size:13px;color:#444;margin-bottom:.4em}
nav ul{columns:2;font-size:14px}.note{color:#555;font-size:13px}.big{font-size:1.3em;font-weight:600}
.sheet{display:flex;flex-wrap:wrap;gap:6px;margin:.3em 0 1.2em}.sheet figure{margin:0;font-size:11px;text-align:center}.sheet img{display:block;border:1px solid #ccc}
`;

/** The whole page: title, table of contents, sections. */
export function page(title: string, intro: string, sections: readonly Section[]): string {
  const toc = sections.length > 1 ? `<nav><ul>${sections.map((s) => `<li><a href="#${s.id}">${escapeHtml(s.title)}</a></li>`).join('')}</ul></nav>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style></head><body>
<h1>${escapeHtml(title)}</h1>
${intro}
${toc}
${sections.map((s) => `<section id="${s.id}"><h2>${escapeHtml(s.title)}</h2>\n${s.html}\n</section>`).join('\n')}
</body></html>
`;
}
