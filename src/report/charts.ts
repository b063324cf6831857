import type { TopLevelSpec } from 'vega-lite';
import { escapeHtml } from './html.js';

/**
 * Report charts: Vega-Lite specs compiled with vega-lite and rendered to SVG
 * by vega's headless View (`renderer: 'none'`, `toSVG()`), at report time, in
 * this process — no browser, no network (data are inline `values`). Each
 * chart has labelled axes and a legend for every encoded series.
 */
export type Row = Record<string, string | number | null>;

const CONFIG = {
  font: 'system-ui, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, labelLimit: 320 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: '#ddd' },
};

/**
 * vega-lite's warning for every faceted chart whose independent scales union
 * one field across the facets' forks of the data: it assumes they are forks of
 * one source, which ours always are (one inline table), so it says nothing to
 * a reader of the report.
 */
const EXPECTED_WARNING = /^Detected faceted independent scales that union domain of the same fields from different source\b/;

/** vega's own console output for a logger (level label, then the message), without EXPECTED_WARNING. */
function logToConsole(method: 'log' | 'warn' | 'error', level: string, args: unknown[]): void {
  if (level === 'WARN' && EXPECTED_WARNING.test(String(args[0]))) return;
  console[method](level, ...args);
}

/** Renders a Vega-Lite spec to an SVG string. */
async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const compiled = vl.compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec, { logger: vega.logger(vega.Warn, undefined, logToConsole) }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A chart as a figure: caption, then the SVG. `name` identifies it in tests. */
export async function figure(name: string, caption: string, spec: TopLevelSpec): Promise<string> {
  const svg = await renderSvg(spec);
  return `<figure class="chart" data-chart="${escapeHtml(name)}"><figcaption>${escapeHtml(caption)}</figcaption>\n${svg}\n</figure>`;
}

export interface BarsOptions {
  category: string;
  categoryTitle: string;
  series: string;
  seriesTitle: string;
  value: string;
  valueTitle: string;
  /** Interval bounds (fields), drawn as whiskers. */
  lo?: string;
  hi?: string;
  /** Facet columns by this field. */
  column?: string;
  columnTitle?: string;
  /** Value axis domain, e.g. [0, 100] for percentages. */
  domain?: [number, number];
}

/** Grouped vertical bars (category × series) with interval whiskers. */
export function groupedBars(values: readonly Row[], o: BarsOptions): TopLevelSpec {
  const y = { field: o.value, type: 'quantitative' as const, title: o.valueTitle, ...(o.domain ? { scale: { domain: o.domain } } : {}) };
  const x = { field: o.category, type: 'nominal' as const, title: o.categoryTitle, sort: null, axis: { labelAngle: -30 } };
  const xOffset = { field: o.series, type: 'nominal' as const, sort: null };
  const layer = [
    {
      mark: { type: 'bar' as const },
      encoding: {
        x,
        xOffset,
        y,
        color: { field: o.series, type: 'nominal' as const, title: o.seriesTitle, sort: null },
        tooltip: [{ field: o.series }, { field: o.value }],
      },
    },
    ...(o.lo && o.hi
      ? [
          {
            mark: { type: 'rule' as const, color: '#111' },
            encoding: { x, xOffset, y: { field: o.lo, type: 'quantitative' as const, title: o.valueTitle }, y2: { field: o.hi } },
          },
        ]
      : []),
  ];
  const inner = { width: { step: 16 }, height: 220, layer };
  if (o.column) {
    return { data: { values: values as Row[] }, facet: { column: { field: o.column, type: 'nominal', title: o.columnTitle ?? o.column, sort: null } }, spec: inner, resolve: { scale: { x: 'independent' } } } as TopLevelSpec;
  }
  return { data: { values: values as Row[] }, ...inner } as TopLevelSpec;
}

export interface HeatmapOptions {
  x: string;
  xTitle: string;
  y: string;
  yTitle: string;
  value: string;
  valueTitle: string;
  domain: [number, number];
  /** Text shown in each cell (field). */
  label: string;
}

export function heatmap(values: readonly Row[], o: HeatmapOptions): TopLevelSpec {
  const x = { field: o.x, type: 'nominal' as const, title: o.xTitle, sort: null, axis: { labelAngle: 0 } };
  const y = { field: o.y, type: 'nominal' as const, title: o.yTitle, sort: null };
  return {
    data: { values: values as Row[] },
    width: { step: 90 },
    height: { step: 28 },
    layer: [
      { mark: { type: 'rect' }, encoding: { x, y, color: { field: o.value, type: 'quantitative', title: o.valueTitle, scale: { domain: o.domain, scheme: 'viridis' } } } },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          x,
          y,
          text: { field: o.label, type: 'nominal' },
          color: { condition: { test: `datum['${o.value}'] > ${(o.domain[0] + o.domain[1]) / 2}`, value: 'black' }, value: 'white' },
        },
      },
    ],
  } as TopLevelSpec;
}

export interface LinesOptions {
  x: string;
  xTitle: string;
  y: string;
  yTitle: string;
  series: string;
  seriesTitle: string;
  /** A second series field drawn as the dash pattern. */
  dash?: string;
  dashTitle?: string;
  lo?: string;
  hi?: string;
  column?: string;
  columnTitle?: string;
  /** Column facets in this order (default: as they first appear in the data). */
  columnOrder?: string[];
  /** Each column its own x scale (e.g. steps of runs of different lengths). */
  independentX?: boolean;
  points?: boolean;
  xType?: 'quantitative' | 'ordinal';
  yZero?: boolean;
  width?: number;
}

/** Lines per series, optionally with interval whiskers and points, faceted by column. */
export function lines(values: readonly Row[], o: LinesOptions): TopLevelSpec {
  const x = { field: o.x, type: o.xType ?? ('quantitative' as const), title: o.xTitle };
  const y = { field: o.y, type: 'quantitative' as const, title: o.yTitle, scale: { zero: o.yZero ?? false } };
  const color = { field: o.series, type: 'nominal' as const, title: o.seriesTitle, sort: null };
  const detail = o.dash ? { strokeDash: { field: o.dash, type: 'nominal' as const, title: o.dashTitle ?? o.dash, sort: null } } : {};
  const layer: object[] = [{ mark: { type: 'line', point: o.points ?? false }, encoding: { x, y, color, ...detail } }];
  if (o.lo && o.hi) layer.push({ mark: { type: 'rule' }, encoding: { x, y: { field: o.lo, type: 'quantitative', title: o.yTitle }, y2: { field: o.hi }, color } });
  const inner = { width: o.width ?? 300, height: 200, layer };
  if (o.column) {
    return {
      data: { values: values as Row[] },
      facet: { column: { field: o.column, type: 'nominal', title: o.columnTitle ?? o.column, sort: o.columnOrder ?? null } },
      spec: inner,
      ...(o.independentX ? { resolve: { scale: { x: 'independent' } } } : {}),
    } as TopLevelSpec;
  }
  return { data: { values: values as Row[] }, ...inner } as TopLevelSpec;
}

/**
 * At most `max` points of a long series: means over equal buckets of steps,
 * each placed at its bucket's last step (an approximation, named in the caption).
 */
export function downsample(ys: readonly number[], max = 400): Array<{ step: number; value: number }> {
  if (ys.length <= max) return ys.map((v, i) => ({ step: i + 1, value: v }));
  const size = Math.ceil(ys.length / max);
  const out: Array<{ step: number; value: number }> = [];
  for (let i = 0; i < ys.length; i += size) {
    const chunk = ys.slice(i, i + size);
    out.push({ step: i + chunk.length, value: chunk.reduce((a, b) => a + b, 0) / chunk.length });
  }
  return out;
}
