// The CLIP ViT vision tower as LLaVA uses it (Hugging Face's CLIPVisionModel):
// patch embedding (a stride-p convolution without bias), a class token,
// learned position embeddings, `pre_layrnorm` (sic, Hugging Face's name),
// pre-norm encoder blocks with quick-GELU MLPs, and `post_layernorm` for the
// pooled class token. Parameter names match `vision_tower.vision_model.*`.
import { arange, cat, conv2d, type Tensor } from '../engine/index.js';
import { ACT2FN } from '../nn/activations.js';
import { Embedding } from '../nn/embedding.js';
import { ParamInit } from '../nn/init.js';
import { LayerNorm } from '../nn/layernorm.js';
import { Linear, type LinearLike } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import type { ClipVisionConfig } from './config.js';
import { ModuleList } from './module-list.js';

class ClipVisionEmbeddings extends Module {
  readonly numPatches: number;
  readonly position_embedding: Embedding;

  constructor(
    readonly config: ClipVisionConfig,
    init: ParamInit,
  ) {
    super();
    const c = config;
    this.numPatches = (c.imageSize / c.patchSize) ** 2;
    this.registerParameter('class_embedding', init.normal([c.hiddenSize]));
    this.registerModule('patch_embedding', new ConvWeight([c.hiddenSize, c.numChannels, c.patchSize, c.patchSize], init));
    this.position_embedding = this.registerModule('position_embedding', new Embedding(this.numPatches + 1, c.hiddenSize, init));
  }

  forward(pixelValues: Tensor): Tensor {
    const c = this.config;
    const w = (this.child('patch_embedding') as ConvWeight).weight;
    if (pixelValues.ndim !== 4 || pixelValues.size(1) !== c.numChannels || pixelValues.size(2) !== c.imageSize || pixelValues.size(3) !== c.imageSize) {
      throw new Error(`pixel values have shape [${pixelValues.shape.join(', ')}], the vision tower expects [batch, ${c.numChannels}, ${c.imageSize}, ${c.imageSize}]`);
    }
    const b = pixelValues.size(0);
    const patches = conv2d(pixelValues.to(w.dtype), w, null, { stride: c.patchSize }).flatten(2).transpose(1, 2); // [B, N, d]
    const cls = (this.param('class_embedding') as Tensor).view([1, 1, c.hiddenSize]).expand([b, 1, c.hiddenSize]);
    const emb = cat([cls, patches], 1);
    const pos = this.position_embedding.forward(arange(0, this.numPatches + 1, 1, { device: w.device as 'cpu' }));
    return emb.add(pos.unsqueeze(0));
  }
}

/** A bare convolution weight (CLIP's patch embedding has no bias). */
class ConvWeight extends Module {
  constructor(shape: number[], init: ParamInit) {
    super();
    this.registerParameter('weight', init.normal(shape));
  }
  get weight(): Tensor {
    return this.param('weight') as Tensor;
  }
}

class ClipAttention extends Module {
  q_proj: LinearLike;
  k_proj: LinearLike;
  v_proj: LinearLike;
  out_proj: LinearLike;
  readonly heads: number;
  readonly headDim: number;

  constructor(c: ClipVisionConfig, init: ParamInit) {
    super();
    this.heads = c.numAttentionHeads;
    this.headDim = c.hiddenSize / c.numAttentionHeads;
    this.k_proj = this.registerModule('k_proj', new Linear(c.hiddenSize, c.hiddenSize, true, init));
    this.v_proj = this.registerModule('v_proj', new Linear(c.hiddenSize, c.hiddenSize, true, init));
    this.q_proj = this.registerModule('q_proj', new Linear(c.hiddenSize, c.hiddenSize, true, init));
    this.out_proj = this.registerModule('out_proj', new Linear(c.hiddenSize, c.hiddenSize, true, init));
  }

  forward(h: Tensor): Tensor {
    const [b, n, d] = h.shape as [number, number, number];
    const split = (x: Tensor): Tensor => x.view([b, n, this.heads, this.headDim]).transpose(1, 2);
    const q = split(this.q_proj.forward(h));
    const k = split(this.k_proj.forward(h));
    const v = split(this.v_proj.forward(h));
    const scores = q.matmul(k.transpose(2, 3)).mul(this.headDim ** -0.5);
    const probs = scores.dtype === 'float32' ? scores.softmax(-1) : scores.float().softmax(-1).to(q.dtype);
    return this.out_proj.forward(probs.matmul(v).transpose(1, 2).reshape([b, n, d]));
  }
}

class ClipMLP extends Module {
  fc1: LinearLike;
  fc2: LinearLike;

  constructor(
    readonly config: ClipVisionConfig,
    init: ParamInit,
  ) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(config.hiddenSize, config.intermediateSize, true, init));
    this.fc2 = this.registerModule('fc2', new Linear(config.intermediateSize, config.hiddenSize, true, init));
  }

  forward(x: Tensor): Tensor {
    const h = this.fc1.forward(x);
    const a = ACT2FN[this.config.hiddenAct](h);
    return this.fc2.forward(a);
  }
}

class ClipEncoderLayer extends Module {
  readonly self_attn: ClipAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: ClipMLP;
  readonly layer_norm2: LayerNorm;

  constructor(c: ClipVisionConfig, init: ParamInit) {
    super();
    this.self_attn = this.registerModule('self_attn', new ClipAttention(c, init));
    this.layer_norm1 = this.registerModule('layer_norm1', new LayerNorm(c.hiddenSize, c.layerNormEps, init));
    this.mlp = this.registerModule('mlp', new ClipMLP(c, init));
    this.layer_norm2 = this.registerModule('layer_norm2', new LayerNorm(c.hiddenSize, c.layerNormEps, init));
  }

  forward(h: Tensor): Tensor {
    const a = h.add(this.self_attn.forward(this.layer_norm1.forward(h)));
    return a.add(this.mlp.forward(this.layer_norm2.forward(a)));
  }
}

export class ClipVisionTransformer extends Module {
  readonly embeddings: ClipVisionEmbeddings;
  readonly pre_layrnorm: LayerNorm;
  readonly encoder: Module;
  readonly layers: ModuleList<ClipEncoderLayer>;
  readonly post_layernorm: LayerNorm;

  constructor(
    readonly config: ClipVisionConfig,
    init: ParamInit,
  ) {
    super();
    const c = config;
    this.embeddings = this.registerModule('embeddings', new ClipVisionEmbeddings(c, init));
    this.pre_layrnorm = this.registerModule('pre_layrnorm', new LayerNorm(c.hiddenSize, c.layerNormEps, init));
    this.layers = new ModuleList(Array.from({ length: c.numHiddenLayers }, () => new ClipEncoderLayer(c, init)));
    this.encoder = this.registerModule('encoder', new EncoderHolder(this.layers));
    this.post_layernorm = this.registerModule('post_layernorm', new LayerNorm(c.hiddenSize, c.layerNormEps, init));
  }

  /**
   * Hidden states as CLIP's encoder reports them: [embeddings after pre_layrnorm,
   * after block 1, ..., after block n] (n + 1 tensors [B, 1 + patches, d]).
   * `upTo` stops after that many blocks (LLaVA never needs the last ones).
   */
  hiddenStates(pixelValues: Tensor, upTo = this.config.numHiddenLayers): Tensor[] {
    let h = this.pre_layrnorm.forward(this.embeddings.forward(pixelValues));
    const out = [h];
    for (let i = 0; i < upTo; i++) {
      h = this.layers.at(i).forward(h);
      out.push(h);
    }
    return out;
  }
}

/** `encoder.layers.N` naming level. */
class EncoderHolder extends Module {
  constructor(layers: ModuleList<ClipEncoderLayer>) {
    super();
    this.registerModule('layers', layers);
  }
}

/** CLIPVisionModel: the transformer under the `vision_model` name. */
export class ClipVisionModel extends Module {
  readonly vision_model: ClipVisionTransformer;

  constructor(config: ClipVisionConfig, init: ParamInit) {
    super();
    this.vision_model = this.registerModule('vision_model', new ClipVisionTransformer(config, init));
  }
}
