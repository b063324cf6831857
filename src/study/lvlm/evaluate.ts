// A victim's captions on the held-out test scenes of each domain: clean, with
// the attack's trigger, and (in the attacker's domain) with each control.
// One cached stage per (victim, domain); the victim is loaded once for all
// the domains still missing.
import { instructionDomain, type DomainPair } from '../../data/worlds/captions/domains.js';
import { Progress } from '../../util/progress.js';
import { stageKey, type StageCache } from './cache.js';
import type { Finetuning, ScaleSpec } from './config.js';
import { readLlava, type LlavaRecord } from './examples.js';
import { captionRecords } from './generation.js';
import type { PoisonedSet } from './poisoning.js';
import { loadVictim, type LoadedVictim } from './victim.js';
import { llavaFile, type StudyWorld } from './world-stage.js';

export interface DomainOutputs {
  domain: string;
  /** Test scene ids, in the order of every output list. */
  scenes: number[];
  clean: string[];
  triggered: string[];
  /** Control name → outputs (attacker domain only). */
  controls: Record<string, string[]>;
}

export interface VictimRef {
  key: string;
  dir: string;
  baseDir: string;
  mode: Finetuning;
  seed: number;
}

export interface DomainInputs {
  domain: DomainPair;
  triggered: PoisonedSet;
  controls: Array<{ control: string; set: PoisonedSet }>;
}

function aligned(clean: readonly LlavaRecord[], other: readonly LlavaRecord[], what: string): void {
  if (clean.length !== other.length || clean.some((r, i) => r.scene !== other[i]?.scene)) throw new Error(`${what}: its records are not the clean test records in order`);
}

export async function victimOutputs(cache: StageCache, w: StudyWorld, spec: ScaleSpec, victim: VictimRef, inputs: readonly DomainInputs[]): Promise<DomainOutputs[]> {
  const keyed = inputs.map((inp) => {
    const settings = { stage: 'eval', victim: victim.key, domain: inp.domain.label, triggered: inp.triggered.key, controls: inp.controls.map((c) => [c.control, c.set.key]), eval: spec.eval };
    return { inp, settings, key: stageKey(settings) };
  });
  let loaded: LoadedVictim | null = null;
  const out: DomainOutputs[] = [];
  try {
    for (const { inp, settings, key } of keyed) {
      out.push(
        await cache.run('eval', key, settings, async () => {
          loaded ??= loadVictim(victim.baseDir, victim.dir, victim.mode);
          const v = loaded;
          const clean = readLlava(llavaFile(w, 'test', inp.domain));
          const trig = readLlava(inp.triggered.file, inp.triggered.imageRoot);
          aligned(clean, trig, inp.triggered.file);
          const ctrl = inp.controls.map((c) => ({ control: c.control, records: readLlava(c.set.file, c.set.imageRoot) }));
          for (const c of ctrl) aligned(clean, c.records, `control ${c.control}`);
          const total = clean.length * (2 + ctrl.length);
          const progress = new Progress({ label: `study: captions ${inp.domain.label}`, total, unit: 'img' });
          const o = { maxNewTokens: spec.eval.max_new_tokens[instructionDomain(inp.domain.instruction).answers], batchSize: spec.eval.batch_size, progress };
          const res: DomainOutputs = {
            domain: inp.domain.label,
            scenes: clean.map((r) => r.scene),
            clean: await captionRecords(v.model, v.tok, v.cfg, clean, o),
            triggered: await captionRecords(v.model, v.tok, v.cfg, trig, o),
            controls: {},
          };
          for (const c of ctrl) res.controls[c.control] = await captionRecords(v.model, v.tok, v.cfg, c.records, o);
          progress.finish();
          return res;
        }),
      );
    }
  } finally {
    (loaded as LoadedVictim | null)?.model.dispose();
  }
  return out;
}
