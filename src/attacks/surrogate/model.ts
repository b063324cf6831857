// A surrogate model for the attacks that learn from a model (GCG, the
// universal perturbation, InputAware, MABA's attribution): a Hugging Face
// folder (llama family or LLaVA, optionally with a PEFT adapter) loaded with
// its tokenizer, prompt template and image processor. Prompts are rendered by
// src/models/prompt.ts — the function the victim trains and is evaluated with
// — and every method returns tensors the caller scopes.
import * as T from '../../engine/index.js';
import { loadModel } from '../../models/load.js';
import { loadAdapter } from '../../models/peft.js';
import { LlavaForConditionalGeneration } from '../../models/llava.js';
import type { CausalLM, LlamaForCausalLM } from '../../models/llama.js';
import { TextTokenizer } from '../../models/tokenizer.js';
import { encodeAnswer, encodePrompt, resolveTemplate, type InstructionSample } from '../../models/prompt.js';
import { preprocessImage, readImageProcessorConfig, type ImageInput, type ImageProcessorConfig } from '../../models/image-processor.js';
import { UserError } from '../../util/errors.js';
import { sha256File } from '../../util/hash.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface SurrogateSpec {
  /** A Hugging Face model folder (llama, mistral, qwen2 or llava). */
  model: string;
  /** A PEFT LoRA adapter folder on top of it. */
  adapter?: string;
  /** Prompt template name (src/models/prompt.ts); default `auto`, as training. */
  template?: string;
}

/** Where a surrogate came from, for manifests and provenance records. */
export interface SurrogateInfo {
  model: string;
  adapter: string | null;
  template: string;
  weights_sha256: string | null;
}

export class Surrogate {
  readonly llava: LlavaForConditionalGeneration | null;
  /** The decoder that reads input embeddings (LLaVA's language model, or the model itself). */
  readonly lm: LlamaForCausalLM;
  readonly imageProcessor: ImageProcessorConfig | null;
  readonly template: string;

  private constructor(
    readonly spec: SurrogateSpec,
    readonly model: CausalLM,
    readonly tok: TextTokenizer,
  ) {
    this.llava = model instanceof LlavaForConditionalGeneration ? model : null;
    this.lm = (this.llava ? this.llava.language_model : model) as LlamaForCausalLM;
    this.imageProcessor = this.llava ? readImageProcessorConfig(spec.model, this.llava.config.vision.imageSize) : null;
    this.template = resolveTemplate(tok, spec.template ?? 'auto').name;
  }

  static load(spec: SurrogateSpec): Surrogate {
    if (!existsSync(join(spec.model, 'config.json'))) throw new UserError(`surrogate model ${spec.model}: no config.json (give a Hugging Face model folder)`);
    const tok = TextTokenizer.load(spec.model);
    const { model } = loadModel(spec.model);
    try {
      if (spec.adapter) loadAdapter(model, spec.adapter);
      // gradients flow to inputs (embeddings, pixels), not to weights, unless a caller turns some on
      model.requiresGrad_(false);
      model.eval();
      return new Surrogate(spec, model, tok);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  get info(): SurrogateInfo {
    const w = join(this.spec.model, 'model.safetensors');
    return { model: this.spec.model, adapter: this.spec.adapter ?? null, template: this.template, weights_sha256: existsSync(w) ? sha256File(w) : null };
  }

  /** The token embedding matrix [vocab, d]. */
  get embedWeight(): T.Tensor {
    return this.lm.model.embed_tokens.param('weight') as T.Tensor;
  }

  /** Prompt ids of a sample (image placeholders expanded for LLaVA when the sample has an image). */
  promptIds(s: InstructionSample): number[] {
    if (s.image !== undefined && !this.llava) throw new UserError(`surrogate ${this.spec.model} is a text model, but the data has images: give a LLaVA folder`);
    const image = this.llava && s.image !== undefined ? { tokenId: this.llava.config.imageTokenId, count: this.llava.imageSeqLength } : undefined;
    return encodePrompt(this.tok, s, this.template, image ? { image } : {});
  }

  /** The answer's ids as training labels them (text, then EOS). */
  answerIds(answer: string): number[] {
    return encodeAnswer(this.tok, answer, this.template);
  }

  /** Normalised pixel values [1, 3, H, W] of an image, through the model's processor. */
  async pixelValues(image: ImageInput): Promise<T.Tensor> {
    if (!this.imageProcessor) throw new UserError(`surrogate ${this.spec.model} has no vision tower`);
    const cfg = this.imageProcessor;
    const data = await preprocessImage(image, cfg);
    return T.tensor(data, { shape: [1, 3, cfg.cropHeight, cfg.cropWidth] });
  }

  /** Per-channel mean and std of the processor's normalisation, shaped [1, 3, 1, 1] (pixel01 = pv·std + mean). */
  normalisation(): { mean: T.Tensor; std: T.Tensor } {
    const cfg = this.imageProcessor;
    if (!cfg) throw new UserError(`surrogate ${this.spec.model} has no vision tower`);
    const mean = cfg.doNormalize ? cfg.mean : [0, 0, 0];
    const std = cfg.doNormalize ? cfg.std : [1, 1, 1];
    return { mean: T.tensor(mean, { shape: [1, 3, 1, 1] }), std: T.tensor(std, { shape: [1, 3, 1, 1] }) };
  }

  /** Input embeddings [B, T, d] of prompt ids, image features merged in for LLaVA ([B, 3, H, W] pixel values, one image per row). */
  embeds(ids: T.Tensor, pixelValues?: T.Tensor): T.Tensor {
    if (pixelValues) {
      if (!this.llava) throw new Error('images need a LLaVA surrogate');
      return this.llava.mergeImageFeatures(ids, pixelValues);
    }
    return this.lm.embedTokens(ids);
  }

  /**
   * Log-likelihood of each row's answer: Σ log p(answer token | everything
   * before), from input embeddings [B, T, d] whose last `answerLen` positions
   * are the answer's tokens `answers` [B, answerLen]. Returns [B].
   */
  answerLogProb(embeds: T.Tensor, answers: T.Tensor, attentionMask?: T.Tensor): T.Tensor {
    const n = answers.size(1);
    const logits = this.lm.forward({ inputsEmbeds: embeds, attentionMask, logitsToKeep: n + 1 }).logits.narrow(1, 0, n).float();
    return logits.logSoftmax(-1).gather(2, answers.unsqueeze(-1)).squeeze(-1).sum(-1);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Token ids as an int64 tensor [rows, len]. */
export function idTensor(rows: readonly (readonly number[])[]): T.Tensor {
  const len = rows[0]?.length ?? 0;
  if (rows.some((r) => r.length !== len)) throw new Error('idTensor: rows of different lengths');
  return T.tensor(BigInt64Array.from(rows.flat(), (x) => BigInt(x)), { shape: [rows.length, len] });
}
