import type { Command } from 'commander';
import { resolve } from 'node:path';
import { emit } from '../output.js';
import { UserError } from '../../util/errors.js';

interface InspectOpts {
  model: string;
  ids?: string;
  text?: string;
  raw?: boolean;
  image?: string;
  dtype: string;
  device?: string;
  crow?: boolean;
  epsilon?: string;
  layers?: string;
  json?: boolean;
}

function parseIds(s: string): number[] {
  const parts = s.split(',').map((x) => x.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new UserError(`--ids must be comma-separated non-negative integers, got '${s}'`);
  }
  return parts.map(Number);
}

/**
 * `bdlab inspect`: one forward pass with every hidden state. `--ids` prints
 * {"logits": [T][V], "hidden_states": [L+1][T][d]} (fp32, Hugging Face's
 * output_hidden_states convention) and needs no tokenizer; `--text` tokenises
 * with the model's tokenizer and chat template and reports the cosine
 * similarity between consecutive hidden states per layer (CROW's signal).
 * `--ids ... --crow` adds "loss" (Hugging Face's LlamaForCausalLM(ids,
 * labels=ids).loss) and "crow": {consistency, perturbed_consistency, epsilon,
 * pairs}: C(e) and C(e + ε·sign(∇_e C(e))) of src/defenses/crow.ts.
 */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('run one sequence through a model and print logits and hidden states, or per-layer hidden-state consistency')
    .requiredOption('--model <dir>', 'Hugging Face model folder')
    .option('--ids <list>', 'token ids, comma-separated (no tokenizer needed)')
    .option('--text <text>', 'text to tokenise (as a user message in the chat template unless --raw)')
    .option('--raw', 'with --text: tokenise the text as is, without the chat template')
    .option('--image <path>', 'with --text on a LLaVA model: an image for the <image> placeholder')
    .option('--dtype <dtype>', 'compute dtype: float32, bfloat16 or float16', 'float32')
    .option('--device <device>', 'cpu or cuda (default: cpu)')
    .option('--crow', 'with --ids: also the LM loss (labels = ids) and CROW\'s consistency C(e) and C(e + ε·sign(∇_e C))')
    .option('--epsilon <e>', 'with --crow: the FGSM step ε', '0.1')
    .option('--layers <start:end>', 'with --crow: hidden_states slice of the first member of each compared pair (1:-2 = the published pairs)', '1:-2')
    .option('--json', 'print one JSON object')
    .action(async (o: InspectOpts) => {
      if ((o.ids === undefined) === (o.text === undefined)) throw new UserError('give exactly one of --ids and --text');
      if (!['float32', 'bfloat16', 'float16'].includes(o.dtype)) throw new UserError(`--dtype must be float32, bfloat16 or float16, got '${o.dtype}'`);
      const { resolveDevice } = await import('../../engine/runtime.js');
      const device = resolveDevice(o.device ?? 'cpu');
      const { inspectIds, inspectText } = await import('../../models/inspect.js');
      const dir = resolve(o.model);
      const common = { dtype: o.dtype as 'float32', device };
      if (o.crow && o.ids === undefined) throw new UserError('--crow needs --ids');
      if (o.ids !== undefined) {
        const ids = parseIds(o.ids);
        let extra;
        if (o.crow) {
          const { inspectCrow, parseLayerSlice } = await import('../../defenses/crow.js');
          const epsilon = Number(o.epsilon);
          if (o.epsilon === undefined || o.epsilon.trim() === '' || !Number.isFinite(epsilon) || epsilon < 0) throw new UserError(`--epsilon must be a number ≥ 0, got '${o.epsilon}'`);
          const layers = parseLayerSlice(o.layers ?? '1:-2');
          extra = (model: Parameters<typeof inspectCrow>[0]): { loss: number; crow: Omit<ReturnType<typeof inspectCrow>, 'loss'> } => {
            const { loss, ...crow } = inspectCrow(model, ids, { epsilon, layers });
            return { loss, crow };
          };
        }
        const r = inspectIds(dir, ids, common, extra);
        const out = { logits: r.logits, hidden_states: r.hidden_states, ...(r.crow ? { loss: r.loss, crow: r.crow } : {}) };
        emit(Boolean(o.json), out, () => {
          const last = r.logits[r.logits.length - 1] ?? [];
          let arg = 0;
          last.forEach((v, i) => (arg = v > (last[arg] ?? -Infinity) ? i : arg));
          const lines = [`${r.logits.length} tokens, ${r.hidden_states.length} hidden states of width ${r.hidden_states[0]?.[0]?.length ?? 0}, vocabulary ${last.length}; next-token argmax ${arg}`];
          if (r.crow) {
            lines.push(`loss (labels = ids): ${(r.loss as number).toFixed(6)}`);
            lines.push(`CROW over ${r.crow.pairs.length} pairs ${r.crow.pairs.map(([a, b]) => `h${a}-h${b}`).join(' ')}: C(e) ${r.crow.consistency.toFixed(6)}, C(e + δ) ${r.crow.perturbed_consistency.toFixed(6)} (ε ${r.crow.epsilon})`);
          }
          return lines.join('\n');
        });
        return;
      }
      const r = await inspectText(dir, o.text as string, { ...common, raw: Boolean(o.raw), image: o.image });
      emit(Boolean(o.json), r, () => {
        const lines = [`${r.ids.length} tokens; cosine similarity between consecutive hidden states (mean over tokens):`];
        r.cosine.forEach((c, l) => lines.push(`  h${l} -> h${l + 1}  ${c.toFixed(6)}`));
        lines.push(`consistency loss over blocks 1..L-1 (CROW): ${r.crow_consistency === null ? 'n/a (needs 3 or more layers)' : r.crow_consistency.toFixed(6)}`);
        return lines.join('\n');
      });
    });
}
