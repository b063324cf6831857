// A LLaVA-style vision-language model in Hugging Face's `llava` layout:
// `vision_tower` (CLIP), `multi_modal_projector` (linear_1 → GELU → linear_2)
// and `language_model` (a Llama-family causal LM). Image features come from the
// configured CLIP hidden state(s) (vision_feature_layer, class token dropped
// under the `default` strategy), are projected to the text width and replace
// the embeddings of the image tokens in the prompt, one per patch, in order.
import { cat, type Tensor } from '../engine/index.js';
import { ACT2FN } from '../nn/activations.js';
import { ParamInit } from '../nn/init.js';
import { Linear, type LinearLike } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { ClipVisionModel } from './clip.js';
import type { LlamaConfig, LlavaConfig } from './config.js';
import { LlamaForCausalLM, type CausalLM, type CausalLMInput, type CausalLMOutput } from './llama.js';

export class LlavaMultiModalProjector extends Module {
  linear_1: LinearLike;
  linear_2: LinearLike;

  constructor(
    readonly config: LlavaConfig,
    init: ParamInit,
  ) {
    super();
    const nLayers = Array.isArray(config.visionFeatureLayer) ? config.visionFeatureLayer.length : 1;
    const inDim = config.vision.hiddenSize * nLayers;
    this.linear_1 = this.registerModule('linear_1', new Linear(inDim, config.text.hiddenSize, config.projectorBias, init));
    this.linear_2 = this.registerModule('linear_2', new Linear(config.text.hiddenSize, config.text.hiddenSize, config.projectorBias, init));
  }

  forward(x: Tensor): Tensor {
    return this.linear_2.forward(ACT2FN[this.config.projectorHiddenAct](this.linear_1.forward(x)));
  }
}

export interface LlavaInput extends CausalLMInput {
  /** Preprocessed images [numImages, 3, H, W], one per group of image tokens, in prompt order. */
  pixelValues?: Tensor;
}

export class LlavaForConditionalGeneration extends Module implements CausalLM {
  readonly vision_tower: ClipVisionModel;
  readonly multi_modal_projector: LlavaMultiModalProjector;
  readonly language_model: LlamaForCausalLM;

  constructor(
    readonly config: LlavaConfig,
    init: ParamInit = new ParamInit({ std: config.text.initializerRange }),
  ) {
    super();
    this.vision_tower = this.registerModule('vision_tower', new ClipVisionModel(config.vision, init));
    this.multi_modal_projector = this.registerModule('multi_modal_projector', new LlavaMultiModalProjector(config, init));
    this.language_model = this.registerModule('language_model', new LlamaForCausalLM(config.text, init));
  }

  get textConfig(): LlamaConfig {
    return this.config.text;
  }

  /** Image tokens each image occupies in the prompt. */
  get imageSeqLength(): number {
    const n = (this.config.vision.imageSize / this.config.vision.patchSize) ** 2;
    return this.config.visionFeatureSelectStrategy === 'default' ? n : n + 1;
  }

  embedTokens(ids: Tensor): Tensor {
    return this.language_model.embedTokens(ids);
  }

  /** Projected features [numImages, imageSeqLength, text_hidden] of preprocessed images. */
  imageFeatures(pixelValues: Tensor): Tensor {
    const layers = Array.isArray(this.config.visionFeatureLayer) ? this.config.visionFeatureLayer : [this.config.visionFeatureLayer];
    const n = this.config.vision.numHiddenLayers;
    const idx = layers.map((l) => (l < 0 ? n + 1 + l : l));
    const hs = this.vision_tower.vision_model.hiddenStates(pixelValues, Math.max(...idx));
    let selected = idx.length === 1 ? (hs[idx[0] as number] as Tensor) : cat(idx.map((i) => hs[i] as Tensor), -1);
    if (this.config.visionFeatureSelectStrategy === 'default') selected = selected.narrow(1, 1, selected.size(1) - 1);
    return this.multi_modal_projector.forward(selected);
  }

  /** Token embeddings with each image token's embedding replaced by an image feature. */
  mergeImageFeatures(inputIds: Tensor, pixelValues: Tensor): Tensor {
    const embeds = this.embedTokens(inputIds);
    const features = this.imageFeatures(pixelValues);
    const mask = inputIds.eq(this.config.imageTokenId);
    const nTokens = mask.sum().item();
    const nFeatures = features.size(0) * features.size(1);
    if (nTokens !== nFeatures) {
      throw new Error(
        `the prompt has ${nTokens} image tokens (id ${this.config.imageTokenId}) but ${features.size(0)} image(s) give ${nFeatures} features ` +
          `(${this.imageSeqLength} per image): expand each image placeholder to ${this.imageSeqLength} tokens`,
      );
    }
    const mask3 = mask.unsqueeze(-1).expand(embeds.shape);
    return embeds.maskedScatter(mask3, features.to(embeds.dtype).reshape([-1, embeds.size(2)]));
  }

  forward(inp: LlavaInput): CausalLMOutput {
    const { pixelValues, ...rest } = inp;
    if (pixelValues && (!inp.cache || inp.cache.length === 0)) {
      if (!inp.inputIds) throw new Error('LLaVA forward: images need inputIds (to find the image tokens)');
      const inputsEmbeds = this.mergeImageFeatures(inp.inputIds, pixelValues);
      return this.language_model.forward({ ...rest, inputIds: undefined, inputsEmbeds });
    }
    return this.language_model.forward(rest);
  }
}
