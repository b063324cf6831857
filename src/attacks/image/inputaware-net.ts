// The trigger and mask generators of InputAware (Nguyen & Tran 2020), laid out
// as BackdoorBench's InputAwareGenerator: `steps` down blocks (two 3×3
// conv → BatchNorm → ReLU, then 2×2 max-pool; channels `channels`, ×2 per
// step), a middle block, `steps` up blocks (bilinear ×2 upsample, two conv
// blocks, the last without ReLU) back to 3 channels (1 for the mask), and
// tanh(x)/(2 + 1e-7) + 0.5 so outputs lie in (0, 1). The mask passes through
// the threshold tanh(20x − 10)/(2 + 1e-7) + 0.5. Names follow the reference
// (`convblock_down_0.conv2d.weight`, `...batch_norm.running_mean`).
import * as T from '../../engine/index.js';
import { Module } from '../../nn/module.js';
import { ParamInit } from '../../nn/init.js';

const EPS = 1e-7;

class Conv3 extends Module {
  constructor(inC: number, outC: number, init: ParamInit) {
    super();
    // PyTorch's default: U(±1/√fan_in) for weight and bias
    const bound = 1 / Math.sqrt(inC * 9);
    this.registerParameter('weight', init.uniform([outC, inC, 3, 3], bound));
    this.registerParameter('bias', init.uniform([outC], bound));
  }
  forward(x: T.Tensor): T.Tensor {
    return T.conv2d(x, this.param('weight') as T.Tensor, this.param('bias'), { padding: 1 });
  }
}

/** BatchNorm2d (eps 1e-5, momentum 0.05 as the reference); running statistics are buffers (no gradient). */
class BatchNorm2d extends Module {
  constructor(
    readonly channels: number,
    readonly momentum = 0.05,
    readonly eps = 1e-5,
  ) {
    super();
    this.registerParameter('weight', T.ones([channels]));
    this.registerParameter('bias', T.zeros([channels]));
    this.registerParameter('running_mean', T.zeros([channels]));
    this.registerParameter('running_var', T.ones([channels]));
  }

  forward(x: T.Tensor): T.Tensor {
    const w = (this.param('weight') as T.Tensor).view([1, -1, 1, 1]);
    const b = (this.param('bias') as T.Tensor).view([1, -1, 1, 1]);
    const rm = this.param('running_mean') as T.Tensor;
    const rv = this.param('running_var') as T.Tensor;
    if (!this.training) return x.sub(rm.view([1, -1, 1, 1])).div(rv.view([1, -1, 1, 1]).add(this.eps).sqrt()).mul(w).add(b);
    const mean = x.mean([0, 2, 3], true);
    const v = x.sub(mean).pow(2).mean([0, 2, 3], true);
    const n = x.numel / this.channels;
    T.noGrad(() => {
      // PyTorch updates the running variance with the unbiased estimate
      rm.mul_(1 - this.momentum).add_(mean.view([-1]), this.momentum);
      rv.mul_(1 - this.momentum).add_(v.view([-1]).mul(n / Math.max(1, n - 1)), this.momentum);
    });
    return x.sub(mean).div(v.add(this.eps).sqrt()).mul(w).add(b);
  }
}

class ConvBlock extends Module {
  readonly conv2d: Conv3;
  readonly batch_norm: BatchNorm2d;
  constructor(
    inC: number,
    outC: number,
    readonly relu: boolean,
    init: ParamInit,
  ) {
    super();
    this.conv2d = this.registerModule('conv2d', new Conv3(inC, outC, init));
    this.batch_norm = this.registerModule('batch_norm', new BatchNorm2d(outC));
  }
  forward(x: T.Tensor): T.Tensor {
    const y = this.batch_norm.forward(this.conv2d.forward(x));
    return this.relu ? y.relu() : y;
  }
}

export interface GeneratorShape {
  /** Channels after the first block (reference 32; 16 for MNIST). */
  channels: number;
  /** Down/up steps (reference 3; 2 for MNIST); the input side must be divisible by 2^steps. */
  steps: number;
  /** Output channels: 3 for the pattern, 1 for the mask. */
  outChannels: number;
}

export class InputAwareGenerator extends Module {
  private readonly order: Array<{ kind: 'block'; m: ConvBlock } | { kind: 'down' } | { kind: 'up' }> = [];

  constructor(
    readonly shape: GeneratorShape,
    init: ParamInit,
  ) {
    super();
    const { channels, steps, outChannels } = shape;
    if (!Number.isInteger(steps) || steps < 2) throw new Error('InputAwareGenerator: steps must be an integer ≥ 2');
    let cur = 3;
    let next = channels;
    const block = (name: string, i: number, o: number, relu = true): void => {
      this.order.push({ kind: 'block', m: this.registerModule(name, new ConvBlock(i, o, relu, init)) });
    };
    for (let s = 0; s < steps; s++) {
      block(`convblock_down_${2 * s}`, cur, next);
      block(`convblock_down_${2 * s + 1}`, next, next);
      this.order.push({ kind: 'down' });
      if (s < steps - 1) {
        cur = next;
        next *= 2;
      }
    }
    block('convblock_middle', next, next);
    cur = next;
    next = Math.floor(cur / 2);
    for (let s = 0; s < steps; s++) {
      this.order.push({ kind: 'up' });
      block(`convblock_up_${2 * s}`, cur, cur);
      block(`convblock_up_${2 * s + 1}`, cur, next, s !== steps - 1);
      cur = next;
      next = Math.floor(next / 2);
      if (s === steps - 2) next = outChannels;
    }
  }

  /** [B, 3, H, W] (normalised images) → [B, out, H, W] in (0, 1). */
  forward(x: T.Tensor): T.Tensor {
    let h = x;
    for (const step of this.order) {
      if (step.kind === 'block') h = step.m.forward(h);
      else if (step.kind === 'down') h = T.maxPool2d(h, 2, 2);
      else h = T.interpolate(h, { scaleFactor: 2, mode: 'bilinear', alignCorners: false });
    }
    return h.tanh().div(2 + EPS).add(0.5);
  }

  /** Parameters a training step updates (not the running statistics). */
  learnable(): T.Tensor[] {
    return [...this.namedParameters()].filter(([n]) => !/running_(mean|var)$/.test(n)).map(([, t]) => t);
  }
}

/** The reference's Threshold: a steep sigmoid that pushes the mask towards 0 or 1. */
export function threshold(m: T.Tensor): T.Tensor {
  return m.mul(20).sub(10).tanh().div(2 + EPS).add(0.5);
}
