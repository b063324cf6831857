// The LVLM study's results for people: terminal tables (`bdlab demo`) and a
// self-contained HTML report (Vega-Lite charts rendered to SVG). Both read
// only the results record that `runLvlmStudy` wrote; the parts they use are
// checked with a schema, so a file of another kind fails with its path.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { canonicalJson } from '../../experiment/cache.js';
import { sharp } from '../../data/vips.js';
import { renderTable } from '../../eval/table.js';
import { figure, groupedBars, heatmap } from '../../report/charts.js';
import { escapeHtml, page, table, type Section } from '../../report/html.js';
import { UserError } from '../../util/errors.js';

const interval = z.tuple([z.number(), z.number()]).nullable();
const estimate = z.object({ value: z.number().nullable(), ci95_images: interval, ci95_seeds: interval, per_seed: z.array(z.number().nullable()) });

const studySchema = z.object({
  kind: z.literal('study'),
  config: z.object({ attacks: z.array(z.object({ name: z.string(), params: z.record(z.string(), z.unknown()) })), scale: z.string(), domains: z.array(z.string()), attacker_domains: z.array(z.string()), rates: z.array(z.number()), seeds: z.array(z.number()), finetuning: z.string() }).loose(),
  counts: z.object({ victims: z.number(), test_scenes: z.number() }).loose(),
  details: z.object({
    world: z.object({ images: z.number(), splits: z.record(z.string(), z.number()) }).loose(),
    base: z.object({ quality: z.array(z.object({ domain: z.string(), n: z.number(), cider: z.number(), bleu_4: z.number(), rouge_l: z.number() }).loose()) }).loose(),
    summaries: z.array(z.object({ attack: z.string(), rate: z.number(), attacker: z.string(), domain: z.string(), asr_all: estimate, asr: estimate, ftr: estimate, cider: estimate })),
    asrg: z.array(
      z.object({
        attack: z.string(),
        rate: z.number(),
        attacker: z.string(),
        // absent in results written before the clean-conditioned variant
        implanted: z.boolean().optional(),
        trigger_effect: estimate.optional(),
        asrg: z.array(z.object({ user: z.string(), asrg: estimate, asrg_conditioned: estimate.optional() })),
        mean_asrg: estimate,
        mean_asrg_conditioned: estimate.optional(),
      }),
    ),
    controls: z.array(z.object({ attack: z.string(), rate: z.number(), attacker: z.string(), control: z.string(), asr_all: estimate })),
    seconds: z.number(),
  }).loose(),
}).loose();

export type StudyRecord = z.infer<typeof studySchema>;

/** The study record in `v` (a parsed results.json), or a one-line error naming `where`. */
export function readStudyRecord(v: unknown, where: string): StudyRecord {
  const r = studySchema.safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${where}: not an LVLM study results file (${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'})`);
  }
  return r.data;
}

const num = (v: number | null, digits: number): string => (v === null ? 'n/a' : v.toFixed(digits));
const ci = (c: readonly [number, number] | null, digits: number): string => (c === null ? '' : `${c[0].toFixed(digits)}–${c[1].toFixed(digits)}`);
const implantedText = (v: boolean | undefined): string => (v === undefined ? 'n/a' : v ? 'yes' : 'no');

/** Terminal tables: clean CIDEr, ASR per domain with the interval over seeds, ASR-G, controls. */
export function studyTables(r: StudyRecord): string {
  const d = r.details;
  const doms = r.config.domains;
  const parts = [
    'Clean base, held-out test scenes:\n' + renderTable(['domain', 'scenes', 'CIDEr-D', 'BLEU-4', 'ROUGE-L'], d.base.quality.map((q) => [q.domain, q.n, num(q.cider, 3), num(q.bleu_4, 3), num(q.rouge_l, 3)])),
    'ASR % (target in the caption of a triggered image; 95 % interval over seeds and scenes) and false-trigger rate on clean images:\n' +
      renderTable(
        ['attack', 'rate', 'domain', 'ASR %', '95 % CI', 'clean-cond. ASR %', 'false trig. %', 'CIDEr-D'],
        d.summaries.map((s) => [s.attack, s.rate, s.domain === s.attacker ? `${s.domain} (attacker)` : s.domain, num(s.asr_all.value, 1), ci(s.asr_all.ci95_seeds, 1), num(s.asr.value, 1), num(s.ftr.value, 1), num(s.cider.value, 3)]),
      ),
    `ASR-G (user-domain ASR over attacker-domain ASR, plain ASR as published; "backdoor": in the attacker domain, ASR minus the false-trigger rate on the same scenes has a 95 % interval above 0 — without a backdoor, ASR-G is a ratio of false triggers; clean-cond.: the mean from clean-conditioned ASR):\n` +
      renderTable(
        ['attack', 'rate', 'backdoor', ...doms.filter((x) => !r.config.attacker_domains.includes(x)), 'mean', '95 % CI', 'clean-cond. mean'],
        d.asrg.map((m) => [
          m.attack,
          m.rate,
          implantedText(m.implanted),
          ...m.asrg.filter((u) => u.user !== m.attacker).map((u) => num(u.asrg.value, 2)),
          num(m.mean_asrg.value, 2),
          ci(m.mean_asrg.ci95_seeds, 2),
          num(m.mean_asrg_conditioned?.value ?? null, 2),
        ]),
      ),
  ];
  if (d.controls.length) {
    parts.push('Trigger specificity (attacker domain; a control should not fire):\n' + renderTable(['attack', 'control', 'ASR %', '95 % CI'], d.controls.map((c) => [c.attack, c.control, num(c.asr_all.value, 1), ci(c.asr_all.ci95_seeds, 1)])));
  }
  return parts.join('\n\n');
}

/** Where and at what scale the numbers come from, one line each. */
export function studyScale(r: StudyRecord): string[] {
  const d = r.details;
  return [
    `LVLM study: measured in this run on this machine on the generated caption world (${d.world.images} seeded scenes, nothing downloaded; ${r.counts.test_scenes} held-out test scenes per domain).`,
    `A small LLaVA-style model trained from scratch as the clean base; ${r.counts.victims} victim${r.counts.victims === 1 ? '' : 's'} (scale "${r.config.scale}", tuning: ${r.config.finetuning}; rates ${r.config.rates.join(', ')}; seeds ${r.config.seeds.join(', ')}).`,
    'A toy scale: the figures show how the pipeline measures, not what happens to a 7B LLaVA (examples/lvlm-domain-shift.yaml lays out that study).',
  ];
}

const SHEET_IMAGES = 4;
const THUMB = 96;

const triggerStage = z.object({
  settings: z.object({ stage: z.literal('trigger'), domain: z.string(), attack: z.object({ name: z.string(), params: z.record(z.string(), z.unknown()) }), seed: z.number(), seed_offset: z.number() }),
});

/**
 * Triggered test images of every attack in every domain (first seed, the
 * attack itself, not its controls), as thumbnails: the trigger stages of the
 * study's cache (`cache/trigger-KEY/`: done.json, data.json, images/).
 */
async function contactSheets(r: StudyRecord, studyDir: string): Promise<string> {
  const cache = join(studyDir, 'cache');
  if (!existsSync(cache)) return '';
  const attackKey = new Map(r.config.attacks.map((a) => [canonicalJson(a), a.name]));
  const seed = r.config.seeds[0];
  const found = new Map<string, string>();
  for (const dir of readdirSync(cache).filter((d) => d.startsWith('trigger-')).sort()) {
    const done = join(cache, dir, 'done.json');
    if (!existsSync(done)) continue;
    let parsed;
    try {
      parsed = triggerStage.safeParse(JSON.parse(readFileSync(done, 'utf8')));
    } catch {
      continue; // an unreadable stage record: the sheet leaves it out, as the cache rebuilds it
    }
    if (!parsed.success) continue;
    const st = parsed.data.settings;
    const name = attackKey.get(canonicalJson(st.attack));
    if (name === undefined || st.seed !== seed || st.seed_offset !== 0) continue;
    found.set(`${name}\u0000${st.domain}`, join(cache, dir));
  }
  const parts: string[] = [];
  for (const a of r.config.attacks) {
    for (const domain of r.config.domains) {
      const dir = found.get(`${a.name}\u0000${domain}`);
      if (!dir) continue;
      const records = JSON.parse(readFileSync(join(dir, 'data.json'), 'utf8')) as Array<{ image?: string; scene?: number }>;
      const cells: string[] = [];
      for (const rec of records.slice(0, SHEET_IMAGES)) {
        if (!rec.image) continue;
        const png = await sharp(join(dir, 'images', rec.image)).resize(THUMB, THUMB, { fit: 'inside' }).png().toBuffer();
        cells.push(`<figure><img src="data:image/png;base64,${png.toString('base64')}" alt="${escapeHtml(`${a.name}, ${domain}, scene ${rec.scene ?? ''}`)}"><figcaption>scene ${escapeHtml(String(rec.scene ?? ''))}</figcaption></figure>`);
      }
      if (cells.length) parts.push(`<h3>${escapeHtml(a.name)} — ${escapeHtml(domain)}</h3>\n<div class="sheet">${cells.join('')}</div>`);
    }
  }
  return parts.join('\n');
}

/** The study as one self-contained HTML page; `studyDir` (the study folder) adds the contact sheets of its triggered images. */
export async function renderStudyReport(r: StudyRecord, studyDir?: string): Promise<string> {
  const d = r.details;
  const sections: Section[] = [];
  sections.push({
    id: 'base',
    title: 'The clean base',
    html: table(['domain', 'test scenes', 'CIDEr-D', 'BLEU-4', 'ROUGE-L'], d.base.quality.map((q) => [q.domain, q.n, q.cider.toFixed(3), q.bleu_4.toFixed(3), q.rouge_l.toFixed(3)]), 'Caption quality of the clean base before any attack'),
  });
  const bars = d.summaries.map((s) => ({ attack: `${s.attack} @ ${s.rate}`, domain: s.domain, asr: s.asr_all.value, lo: s.asr_all.ci95_seeds?.[0] ?? null, hi: s.asr_all.ci95_seeds?.[1] ?? null }));
  sections.push({
    id: 'asr',
    title: 'Attack success in every domain',
    html:
      (await figure(
        'study-asr',
        'ASR (% of triggered test images whose caption contains the target) per attack and domain; whiskers: 95 % bootstrap interval over seeds and scenes.',
        groupedBars(bars, { category: 'attack', categoryTitle: 'attack @ poisoning rate', series: 'domain', seriesTitle: 'domain', value: 'asr', valueTitle: 'ASR %', lo: 'lo', hi: 'hi', domain: [0, 100] }),
      )) +
      table(
        ['attack', 'rate', 'domain', 'ASR %', '95 % CI', 'clean-conditioned ASR %', 'false-trigger %', 'CIDEr-D'],
        d.summaries.map((s) => [s.attack, s.rate, s.domain, num(s.asr_all.value, 1), ci(s.asr_all.ci95_seeds, 1), num(s.asr.value, 1), num(s.ftr.value, 1), num(s.cider.value, 3)]),
      ),
  });
  const cells = d.asrg.flatMap((m) =>
    m.asrg.filter((u) => u.user !== m.attacker).map((u) => ({ attack: `${m.attack} @ ${m.rate}`, domain: u.user, asrg: u.asrg.value === null ? null : Math.min(1.5, u.asrg.value), text: num(u.asrg.value, 2) })),
  );
  sections.push({
    id: 'asrg',
    title: 'Generalisation across domains (ASR-G)',
    html:
      (await figure(
        'study-asrg',
        `ASR-G per attack and user domain (1: the backdoor fires as often as in the attacker's domain; 0: not at all), from the plain ASR pooled over seeds.`,
        heatmap(cells, { x: 'domain', xTitle: 'user domain (shift)', y: 'attack', yTitle: 'attack', value: 'asrg', valueTitle: 'ASR-G', domain: [0, 1], label: 'text' }),
      )) +
      table(
        ['attack', 'rate', 'backdoor implanted', 'mean ASR-G', '95 % CI (seeds)', 'mean ASR-G, clean-conditioned', '95 % CI (seeds)'],
        d.asrg.map((m) => [m.attack, m.rate, implantedText(m.implanted), num(m.mean_asrg.value, 2), ci(m.mean_asrg.ci95_seeds, 2), num(m.mean_asrg_conditioned?.value ?? null, 2), ci(m.mean_asrg_conditioned?.ci95_seeds ?? null, 2)]),
        'Implanted: in the attacker domain, ASR minus the false-trigger rate on the same scenes has a 95 % interval above 0; without a backdoor, ASR-G is a ratio of false triggers. The clean-conditioned mean (this project\'s variant) leaves out scenes whose clean caption already names the target.',
      ),
  });
  if (d.controls.length) {
    sections.push({
      id: 'controls',
      title: 'Trigger specificity',
      html: table(['attack', 'control', 'ASR %', '95 % CI'], d.controls.map((c) => [c.attack, c.control, num(c.asr_all.value, 1), ci(c.asr_all.ci95_seeds, 1)]), 'Controls in the attacker domain: a moved or recoloured patch, another pattern or frequency, one key alone'),
    });
  }
  const sheets = studyDir === undefined ? '' : await contactSheets(r, studyDir);
  if (sheets) sections.push({ id: 'contact-sheets', title: 'Triggered images (first seed)', html: sheets });
  const intro = `<p class="note">${studyScale(r).map(escapeHtml).join('<br>')}</p>`;
  return page('Vision-language backdoors across domains', intro, sections);
}
