// Parameter creation for module constructors. `random` draws each tensor from
// its own seed (base seed + a running counter), so a model built from a seed is
// the same on every run and device; `empty` allocates without initialising, for
// weights that a checkpoint is about to overwrite.
import { empty, full, rand, randn, zeros, type Device, type DType, type Tensor } from '../engine/index.js';

export interface InitOptions {
  mode?: 'random' | 'empty';
  seed?: number;
  /** Standard deviation of normal initialisation (Hugging Face's initializer_range). */
  std?: number;
  dtype?: DType;
  device?: Device;
}

export class ParamInit {
  readonly mode: 'random' | 'empty';
  readonly std: number;
  readonly dtype: DType;
  readonly device: Device;
  private next: number;

  constructor(o: InitOptions = {}) {
    this.mode = o.mode ?? 'random';
    this.std = o.std ?? 0.02;
    this.dtype = o.dtype ?? 'float32';
    this.device = o.device ?? 'cpu';
    this.next = o.seed ?? 0;
  }

  private empty(shape: readonly number[]): Tensor {
    return empty(shape, { dtype: this.dtype, device: this.device });
  }

  private seed(): number {
    return this.next++ % 2 ** 31;
  }

  /** N(0, std²) (std defaults to the configured initializer range). */
  normal(shape: readonly number[], std = this.std): Tensor {
    if (this.mode === 'empty') return this.empty(shape);
    const s = this.seed();
    const t = randn(shape, { seed: s, dtype: 'float32' });
    const r = t.mul(std).to({ dtype: this.dtype, device: this.device });
    t.dispose();
    return r;
  }

  /** U(-bound, bound). */
  uniform(shape: readonly number[], bound: number): Tensor {
    if (this.mode === 'empty') return this.empty(shape);
    const t = rand(shape, { seed: this.seed(), dtype: 'float32' });
    const r = t.mul(2 * bound).sub(bound).to({ dtype: this.dtype, device: this.device });
    t.dispose();
    return r;
  }

  zeros(shape: readonly number[]): Tensor {
    return this.mode === 'empty' ? this.empty(shape) : zeros(shape, { dtype: this.dtype, device: this.device });
  }

  ones(shape: readonly number[]): Tensor {
    return this.mode === 'empty' ? this.empty(shape) : full(shape, 1, { dtype: this.dtype, device: this.device });
  }
}
