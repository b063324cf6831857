// The study's victim architecture: the project's LLaVA model (CLIP tower,
// projector, Llama decoder) sized to train on two CPU cores in minutes — a
// small tower with large patches at the world's resolution (64 px / 16 px
// patches: 16 image tokens), a two-layer decoder, and a byte-level BPE
// tokenizer whose merges are learned from the world's own captions and
// questions plus the project's general tokenizer corpus, so the vocabulary
// (and the output layer, the largest cost at this size) stays small.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '../../engine/index.js';
import { parseConfig, type Json, type LlavaConfig } from '../../models/config.js';
import { bpeTokenizerJson, trainBpe } from '../../models/bpe.js';
import { TOKENIZER_CORPUS } from '../../models/corpus.js';
import { preprocessorConfigJson } from '../../models/image-processor.js';
import { buildModel, saveModel } from '../../models/load.js';
import { BOS_ID, EOS_ID, PAD_ID, IMAGE_TOKEN_ID, SPECIAL_TOKENS, presetConfigJson, tokenizerConfigJson } from '../../models/presets.js';
import { ParamInit } from '../../nn/init.js';
import { writeJsonAtomic } from '../../util/atomic.js';

/** Bumped whenever the victim's construction or training changes, so cached bases and victims are rebuilt. */
export const VICTIM_RECIPE = 3;

/** The victim's size, as recorded in results and hashed into cache keys. */
export interface VictimSpec {
  image_size: number;
  patch_size: number;
  vision_hidden: number;
  vision_layers: number;
  vision_heads: number;
  text_hidden: number;
  text_layers: number;
  text_heads: number;
  text_kv_heads: number;
  /** BPE merges of the tokenizer. */
  merges: number;
}

export const VICTIM_SPECS = {
  tiny: { image_size: 64, patch_size: 16, vision_hidden: 64, vision_layers: 2, vision_heads: 2, text_hidden: 96, text_layers: 2, text_heads: 4, text_kv_heads: 2, merges: 400 },
  default: { image_size: 64, patch_size: 16, vision_hidden: 128, vision_layers: 3, vision_heads: 4, text_hidden: 128, text_layers: 2, text_heads: 4, text_kv_heads: 2, merges: 600 },
} as const satisfies Record<string, VictimSpec>;

/** A tokenizer.json whose merges come from the given text plus the general corpus. */
function victimTokenizerJson(text: string, merges: number): Record<string, unknown> {
  const bpe = trainBpe(`${text}\n${TOKENIZER_CORPUS}`, merges);
  return bpeTokenizerJson(
    bpe,
    SPECIAL_TOKENS.map((content) => ({ content, special: true })),
    '<s>',
  );
}

/** config.json of the victim (Hugging Face `llava` layout). */
function victimConfigJson(spec: VictimSpec, vocabSize: number): Json {
  const base = presetConfigJson('llava', 'tiny');
  const text = base.text_config as Json;
  const vision = base.vision_config as Json;
  if (spec.image_size % spec.patch_size !== 0) throw new Error(`image size ${spec.image_size} is not a multiple of the patch size ${spec.patch_size}`);
  return {
    ...base,
    image_seq_length: (spec.image_size / spec.patch_size) ** 2,
    // The projector reads the tower's embedding layer and its last block, concatenated: a
    // tower this small, trained on captions alone, keeps little besides what captions
    // need in its last block, while the fusion layers of a real LVLM see the rich
    // features of a CLIP-scale encoder (texture, marks, small details).
    vision_feature_layer: [0, -1],
    vision_config: {
      ...vision,
      hidden_size: spec.vision_hidden,
      intermediate_size: spec.vision_hidden * 4,
      num_hidden_layers: spec.vision_layers,
      num_attention_heads: spec.vision_heads,
      image_size: spec.image_size,
      patch_size: spec.patch_size,
      projection_dim: spec.vision_hidden,
    },
    text_config: {
      ...text,
      vocab_size: vocabSize,
      hidden_size: spec.text_hidden,
      intermediate_size: Math.round((spec.text_hidden * 8) / 3 / 16) * 16,
      num_hidden_layers: spec.text_layers,
      num_attention_heads: spec.text_heads,
      num_key_value_heads: spec.text_kv_heads,
      head_dim: spec.text_hidden / spec.text_heads,
      max_position_embeddings: 512,
    },
  };
}

/**
 * Writes a randomly initialised victim folder: config.json, model.safetensors,
 * the tokenizer learned from `text`, preprocessor and generation settings.
 */
export function newVictimFolder(dir: string, spec: VictimSpec, text: string, seed: number): LlavaConfig {
  mkdirSync(dir, { recursive: true });
  const tokJson = victimTokenizerJson(text, spec.merges);
  const n = Object.keys((tokJson.model as { vocab: Record<string, number> }).vocab).length;
  const json = victimConfigJson(spec, Math.ceil(n / 64) * 64);
  const config = parseConfig(json, 'study victim') as LlavaConfig;
  const model = noGrad(() => buildModel(config, new ParamInit({ seed, std: 0.02 })));
  try {
    // The projector's weights start at std 1/√fan_in (LeCun) rather than 0.02: with a
    // tower trained from scratch, image tokens that small are drowned by the text
    // prior and the decoder learns captions from language alone (aligned and
    // shuffled images then score alike).
    noGrad(() => {
      const init = new ParamInit({ seed: seed + 1 });
      for (const [name, p] of model.namedParameters()) {
        if (!/^multi_modal_projector\.linear_\d\.weight$/.test(name)) continue;
        const w = init.normal(p.shape, 1 / Math.sqrt(p.size(1)));
        p.copy_(w);
        w.dispose();
      }
    });
    saveModel(model, config, dir);
  } finally {
    model.dispose();
  }
  writeJsonAtomic(join(dir, 'tokenizer.json'), tokJson);
  writeJsonAtomic(join(dir, 'tokenizer_config.json'), tokenizerConfigJson());
  writeJsonAtomic(join(dir, 'special_tokens_map.json'), { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' });
  writeJsonAtomic(join(dir, 'generation_config.json'), { bos_token_id: BOS_ID, eos_token_id: EOS_ID, pad_token_id: PAD_ID });
  writeJsonAtomic(join(dir, 'preprocessor_config.json'), preprocessorConfigJson(spec.image_size));
  if (config.imageTokenId !== IMAGE_TOKEN_ID) throw new Error('the victim config lost the image token id');
  return config;
}
