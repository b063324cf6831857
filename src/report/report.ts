import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { RESULTS_SCHEMA, resultsSchema, type ExperimentResults } from '../experiment/results-schema.js';
import { escapeHtml, page, table, type Section } from './html.js';
import { tablesSection } from './sections/tables.js';
import { asrgSection } from './sections/asrg.js';
import { ratesSection } from './sections/rates.js';
import { crowSection } from './sections/crow.js';
import { defensesSection } from './sections/defenses.js';
import { detectionSection } from './sections/detection.js';
import { trainingSection } from './sections/training.js';
import { contactSheetsSection } from './sections/contact-sheets.js';

/**
 * report.html for an experiment's results.json: one self-contained file. Each
 * section appears only when the results hold its data; a results file that
 * is malformed is refused with the first bad field.
 */
export interface ReportOptions {
  /** The folder the results' relative paths (images) start from: the results file's folder. */
  baseDir: string;
}

function pathOf(p: readonly PropertyKey[]): string {
  let s = '';
  for (const x of p) s += typeof x === 'number' ? `[${x}]` : s === '' ? String(x) : `.${String(x)}`;
  return s || '(top level)';
}

/** Checks a parsed results object; `where` (the file) names it in the error. */
function validateResults(v: unknown, where: string): ExperimentResults {
  const r = resultsSchema.safeParse(v);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  let msg = i.message;
  if (i.code === 'invalid_type') msg = `expected ${i.expected}${i.message.includes('received undefined') ? ', missing' : ''}`;
  else if (i.code === 'invalid_value') msg = `expected ${i.values.map((x) => JSON.stringify(x)).join(' or ')}`;
  throw new UserError(`${where}: field ${pathOf(i.path)}: ${msg}`);
}

/** Reads a results file: the results.json of `bdlab run` or `bdlab demo`. */
export function readResults(path: string): ExperimentResults {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a results file' : (e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const schema = v && typeof v === 'object' && !Array.isArray(v) ? (v as { schema?: unknown }).schema : undefined;
  if (schema !== RESULTS_SCHEMA) throw new UserError(`${path}: field schema: expected "${RESULTS_SCHEMA}" (the results.json of bdlab run or bdlab demo), got ${JSON.stringify(schema)}`);
  return validateResults(v, path);
}

function overview(r: ExperimentResults): string {
  const names = (xs: readonly string[]): string => (xs.length ? xs.map((x) => `<code>${escapeHtml(x)}</code>`).join(', ') : 'none');
  const seeds = r.seeds.length;
  return `<p>${r.spec.description ? escapeHtml(r.spec.description) : `Experiment <b>${escapeHtml(r.spec.name)}</b>.`}</p>
<p>Attacks (registry names): ${names([...new Set(r.attacks.map((a) => a.name))])}; defenses: ${names(r.defenses.map((d) => d.name))};
domains: ${r.domains.map((d) => `<b>${escapeHtml(d.name)}</b> (${d.role === 'attacker' ? "the attacker's" : escapeHtml(d.description)})`).join(', ') || 'none'};
${seeds} seed${seeds === 1 ? '' : 's'} (${r.seeds.join(', ')})${r.rates.length ? `; poisoning rates ${r.rates.map((x) => `${Number((x * 100).toPrecision(6))} %`).join(', ')}` : ''}.
Every figure below is measured by this run (spec <code>${escapeHtml(r.spec.file)}</code>, sha256 <code>${escapeHtml(r.spec.sha256.slice(0, 16))}</code>).</p>`;
}

function provenance(r: ExperimentResults): Section {
  const byKind = new Map<string, number>();
  for (const s of r.stages) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
  const rows: Array<[string, string]> = [
    ['tool', `${r.tool.name} ${r.tool.version}`],
    ['spec', `${r.spec.file} (sha256 ${r.spec.sha256})`],
    ['stages', [...byKind].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'],
  ];
  if (r.timing) {
    const ran = r.timing.stages.filter((s) => s.status === 'ran').length;
    rows.push(['this run', `${r.timing.started} → ${r.timing.finished} (${r.timing.seconds.toFixed(1)} s); ${ran} stage(s) ran, ${r.timing.stages.length - ran} reused from the cache`]);
  }
  let html = table(['', ''], rows.map(([a, b]) => [a, b]));
  if (r.unavailable.length > 0) {
    html += `<p>Left out, not available in this build:</p>\n${table(['stage', 'why'], r.unavailable.map((u) => [u.id, u.reason]))}`;
  }
  const tpl = r.records.find((x) => x.prompts.template !== null)?.prompts.template;
  if (tpl) html += `<p>Prompt template of training and evaluation (<code>{instruction}</code> stands for the user turn):</p><pre>${escapeHtml(tpl)}</pre>`;
  return { id: 'provenance', title: 'Provenance', html };
}

export async function renderReport(r: ExperimentResults, o: ReportOptions): Promise<string> {
  const sections = [
    tablesSection(r),
    await asrgSection(r),
    await ratesSection(r),
    await defensesSection(r),
    await crowSection(r),
    await detectionSection(r),
    await trainingSection(r),
    await contactSheetsSection(r, o.baseDir),
    provenance(r),
  ].filter((s): s is Section => s !== null);
  return page(`backdoor-lab: ${r.spec.name}`, overview(r), sections);
}
