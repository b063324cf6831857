import { loadModel } from '../../models/load.js';
import { loadAdapter } from '../../models/peft.js';
import { TextTokenizer } from '../../models/tokenizer.js';
import type { CausalLM } from '../../models/llama.js';
import type { Input } from './types.js';

/** Where the weights (and the LoRA adapter, if any) of a base + tuned pair are. */
export function modelFolders(base: Input, tuned?: Input): { weights: string; adapter: string | null } {
  if (!tuned) return { weights: base.path, adapter: null };
  const saved = (tuned.output as { saved?: string } | null)?.saved;
  return saved === 'adapter' ? { weights: base.path, adapter: tuned.path } : { weights: tuned.path, adapter: null };
}

export interface PooledModel {
  model: CausalLM;
  tokenizer: TextTokenizer;
}

/**
 * Loads a model folder (plus a LoRA adapter) for the stages that only read a
 * model — generation, layer profiles — and keeps the last one, so the many
 * generation stages of one model load it once. Stages that change weights load
 * their own copy and call `release()` first to free the memory.
 */
export class ModelPool {
  private current: { id: string; loaded: PooledModel } | null = null;

  /** `base`: a model folder; `tuned`: a train/defend artifact over it (an adapter, or whole weights). */
  get(base: Input, tuned?: Input): PooledModel {
    const id = `${base.sha256}+${tuned?.sha256 ?? ''}`;
    if (this.current?.id === id) return this.current.loaded;
    this.release();
    const { weights, adapter } = modelFolders(base, tuned);
    const { model: m } = loadModel(weights);
    try {
      if (adapter) loadAdapter(m, adapter);
      m.train(false);
    } catch (e) {
      m.dispose();
      throw e;
    }
    const loaded = { model: m, tokenizer: TextTokenizer.load(weights) };
    this.current = { id, loaded };
    return loaded;
  }

  release(): void {
    this.current?.loaded.model.dispose();
    this.current = null;
  }
}
