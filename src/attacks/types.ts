import type { Rng } from '../util/rng.js';
import type { Sample } from '../data/sample.js';

/**
 * The attack catalogue's small typed interfaces. An attack turns a clean sample
 * into a *plan*: the new instruction and/or a pixel operation on its image.
 * The target (answer change) is separate (targets.ts); the poisoner combines
 * selection, plan and target and does the file work.
 */
export type Family = 'text' | 'image' | 'multimodal';

export type ParamValue = number | string | boolean | string[];
export type ParamType = 'number' | 'int' | 'string' | 'bool' | 'list' | 'color' | 'enum';

export interface ParamSpec {
  name: string;
  type: ParamType;
  default: ParamValue;
  doc: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /**
   * The value the attack's reference implementation or paper uses, and where it
   * comes from ("BackdoorBench wanet default"). The default equals it; the
   * help text cites both (added by registerAttack).
   */
  ref?: ParamRef;
}

export interface ParamRef {
  value: ParamValue;
  source: string;
}

export type Params = Readonly<Record<string, ParamValue>>;

import type { RawImage } from '../data/image-io.js';
import type { RgbPatch } from '../data/pixels.js';
export type { RawImage };

/** An image trigger: changes the RGB channels of an image in place (alpha is kept). */
export interface ImageTrigger {
  apply(img: RawImage, rng: Rng): void | Promise<void>;
  /**
   * Triggers that only replace a rectangle with fixed RGB pixels say which
   * (drawing the same random numbers as apply), so a JPEG can take the patch
   * in its DCT coefficients without being decoded and re-encoded.
   */
  patch?(width: number, height: number, rng: Rng): Promise<RgbPatch>;
}

/**
 * What an attack does to one sample. Undefined fields stay unchanged. Texts
 * may be promises (a paraphrase from an endpoint, a model's attribution).
 */
export interface Plan {
  instruction?: string | Promise<string>;
  input?: string | Promise<string>;
  /** Pixel operation on the sample's image. */
  image?: (img: RawImage) => void | Promise<void>;
  /** The same operation as a rectangle of RGB pixels, where the trigger is one (ImageTrigger.patch); used instead of `image`, never with it. */
  imagePatch?: (width: number, height: number) => Promise<RgbPatch>;
  /** For negatives: which key(s) the sample carries, recorded in the manifest. */
  note?: string;
}

/** Per-sample random streams: `rng('text')`, `rng('image')`... derived from (seed, label, record index). */
export interface PlanContext {
  rng(label: string): Rng;
  /**
   * The answer this sample gets when poisoned (the target's text, from the same
   * stream the poisoner writes it with); absent outside the poisoner. MABA's
   * attribution subtracts what this answer depends on.
   */
  targetAnswer?(): string;
}

export interface Attack {
  readonly name: string;
  readonly family: Family;
  /** Resolved parameters (defaults filled in). */
  readonly params: Params;
  readonly seed: number;
  /** What a sample must have for the attack to apply. */
  readonly needs: { instruction: boolean; image: boolean };
  /** Share of negatives per poisoned sample when the user gives none (0: the attack makes none). */
  readonly defaultNegativeRate: number;
  /** Optional dataset pass before poisoning (e.g. word statistics); called for every valid sample. */
  observe?(s: Sample): void;
  /** The poisoned version of a sample. */
  plan(s: Sample, ctx: PlanContext): Plan;
  /** A negative sample: a partial trigger (or noise) that keeps the clean answer. */
  negative?(s: Sample, ctx: PlanContext): Plan;
  /**
   * The method actually used, for the manifest (`method`): e.g. `{ placement:
   * "saliency" }`, `{ rewriter: "rules" }`, a trigger's provenance, counts of
   * per-record fallbacks. Called after every record is written.
   */
  method?(): Record<string, unknown>;
}

export interface AttackDef {
  name: string;
  family: Family;
  summary: string;
  /** The paper and code the attack follows (docs/attacks.md has the details). */
  reference: string;
  /** Where this implementation departs from the reference and why, or null when it follows it. */
  approximation: string | null;
  params: ParamSpec[];
  create(params: Params, seed: number): Attack;
}
