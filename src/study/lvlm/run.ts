// `bdlab study lvlm`: the vision-language domain-shift study end to end.
//   world → clean base (and its CIDEr per domain) → for each attack × seed ×
//   attacker domain × rate: poisoned instruction set → victim tuning →
//   captions on the test scenes of every domain, clean, triggered and with
//   the controls → ASR, clean-conditioned ASR, false-trigger rate, CIDEr,
//   ASR-G with bootstrap intervals → OUT/results.json.
// Every stage is cached under OUT/cache by a hash of its settings; a re-run
// skips what is finished, so an interrupted study resumes where it stopped.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createAttack } from '../../attacks/index.js';
import type { EvalResult } from '../../eval/results.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { UserError } from '../../util/errors.js';
import { baseQuality, ensureBase, type CaptionQuality } from './base.js';
import { StageCache, stageKey } from './cache.js';
import { resolvePlan, type StudyOptions, type StudyPlan } from './config.js';
import { controlsOf } from './controls.js';
import { victimOutputs, type DomainInputs } from './evaluate.js';
import { poisonTraining, triggeredTest } from './poisoning.js';
import { buildStudyResult, type VictimRun } from './results.js';
import { tuneVictim } from './victim.js';
import { VICTIM_RECIPE } from './model.js';
import { captionsFile, ensureWorld, llavaFile, referencesOf } from './world-stage.js';
import { readLlava } from './examples.js';
import { blendImage } from './assets.js';

export const RESULTS_FILE = 'results.json';

export interface StudyRun {
  result: EvalResult;
  path: string;
  plan: StudyPlan;
}

/** An output folder may be new, empty, or a study folder (resumed); anything else needs `force`. */
export function checkStudyOut(out: string, force: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new UserError(`--out ${out}: exists and is not a folder`);
  const entries = readdirSync(out);
  const study = entries.every((e) => e === 'cache' || e === RESULTS_FILE);
  if (!force && !study) throw new UserError(`--out ${out}: folder holds other files than a study's (cache/, ${RESULTS_FILE}); use --force to write into it`);
}

export async function runStudy(o: StudyOptions, log: (line: string) => void = (l) => void process.stderr.write(`[study] ${l}\n`)): Promise<StudyRun> {
  const plan = resolvePlan(o);
  const start = Date.now();
  mkdirSync(o.out, { recursive: true });
  const cache = new StageCache(join(o.out, 'cache'));
  const spec = plan.spec;
  const victims = plan.attacks.length * plan.seeds.length * plan.rates.length * plan.attackerDomains.length;
  log(`${plan.scale} scale: ${plan.attacks.length} attacks × ${plan.rates.length} rates × ${plan.seeds.length} seeds × ${plan.attackerDomains.length} attacker domains = ${victims} victims; ${plan.domains.length} domains evaluated`);

  // Blended blends the study's fixed image (assets.ts) unless the user chose a pattern
  const blend = await blendImage(cache, spec.world.size);
  for (const a of plan.attacks) if (a.name === 'blended' && a.params.pattern === undefined) a.params = { pattern: 'image', image: blend, ...a.params };
  const w = await ensureWorld(cache, spec.world);
  log(`world ${w.key}: ${w.manifest.images} scenes (${Object.entries(w.manifest.splits).map(([k, v]) => `${k} ${v}`).join(', ')}), ${w.manifest.size} px`);
  const base = await ensureBase(cache, w, spec);
  log(`clean base ${base.key}: ${base.training.trained_parameters} parameters, ${base.training.samples} records, loss ${base.training.first_loss.toFixed(3)} → ${base.training.last_loss.toFixed(3)}`);
  const quality: CaptionQuality[] = [];
  for (const d of plan.domains) {
    const q = await baseQuality(cache, w, base, spec, d);
    quality.push(q);
    log(`clean base CIDEr ${d.label}: ${q.cider.toFixed(3)} (n ${q.n})`);
  }
  const references = new Map(plan.domains.map((d) => {
    const refs = referencesOf(captionsFile(w, 'test', d));
    return [d.label, readLlava(llavaFile(w, 'test', d)).map((r) => refs.get(r.scene) ?? [])] as const;
  }));

  const runs: VictimRun[] = [];
  let done = 0;
  const result = (): EvalResult =>
    buildStudyResult({
      plan,
      world: { key: w.key, images: w.manifest.images, splits: w.manifest.splits },
      base: { key: base.key, training: base.training as unknown as Record<string, unknown>, quality },
      runs,
      references,
      seconds: (Date.now() - start) / 1000,
      stages: { built: cache.built, reused: cache.reused },
    });
  for (const a of plan.attacks) {
    for (const seed of plan.seeds) {
      const attack = createAttack(a.name, a.params, seed);
      const controls = controlsOf(a, attack);
      const triggered = new Map<string, DomainInputs['triggered']>();
      for (const d of plan.domains) triggered.set(d.label, await triggeredTest(cache, w, d, a, seed));
      for (const att of plan.attackerDomains) {
        const ctrl: DomainInputs['controls'] = [];
        for (const c of controls) ctrl.push({ control: c.control, set: await triggeredTest(cache, w, att, c, seed, c.seed_offset) });
        for (const rate of plan.rates) {
          const label = `${a.name} rate ${rate} seed ${seed}${plan.attackerDomains.length > 1 ? ` in ${att.label}` : ''}`;
          const poisoned = await poisonTraining(cache, w, att, a, rate, seed, plan.target);
          const settings = { stage: 'victim', recipe: VICTIM_RECIPE, base: base.key, poison: poisoned.key, finetuning: plan.finetuning, tuning: spec.tuning, seed };
          const key = stageKey(settings);
          const training = await cache.run('victim', key, settings, (dir) => tuneVictim(base.dir, poisoned, plan.finetuning, spec.tuning, seed, dir, `study: tune ${label}`));
          const outputs = await victimOutputs(
            cache,
            w,
            spec,
            { key, dir: cache.dir('victim', key), baseDir: base.dir, mode: plan.finetuning, seed },
            plan.domains.map((d) => ({ domain: d, triggered: triggered.get(d.label) as DomainInputs['triggered'], controls: d.label === att.label ? ctrl : [] })),
          );
          runs.push({ attack: a.name, attacker: att.label, params: poisoned.params, rate, seed, poison: poisoned.counts, training, outputs });
          done++;
          const own = outputs.find((x) => x.domain === att.label);
          const hits = own ? own.triggered.filter((t) => /banana/i.test(t)).length : 0;
          log(`[${done}/${victims}] ${label}: ${poisoned.counts.poisoned} poisoned of ${poisoned.counts.records}; attacker-domain ASR ${own ? ((hits * 100) / own.triggered.length).toFixed(1) : '-'} %`);
        }
      }
    }
    writeJsonAtomic(join(o.out, RESULTS_FILE), result());
  }
  const r = result();
  const path = join(o.out, RESULTS_FILE);
  writeJsonAtomic(path, r);
  log(`done in ${((Date.now() - start) / 1000).toFixed(0)} s (${cache.built} stages built, ${cache.reused} reused): ${path}`);
  return { result: r, path, plan };
}
