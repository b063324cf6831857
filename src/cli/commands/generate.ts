import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { emit } from '../output.js';
import { UserError } from '../../util/errors.js';
import { numberFlag } from './eval/common.js';
import type { Device, DType } from '../../engine/index.js';
import type { SamplingSettings } from '../../generation/batch.js';
import type { GenerationRecord } from '../../generation/input.js';
import type { EndpointBackend, LocalBackend } from '../../generation/run.js';
import type { TemplateName } from '../../generation/templates.js';
import type { EndpointApi } from '../../util/openai-client.js';

interface GenerateOpts {
  model?: string;
  adapter?: string;
  input?: string;
  out?: string;
  format?: string;
  imageRoot?: string;
  prompt: string[];
  image: string[];
  template?: string;
  raw?: boolean;
  system?: string;
  maxNewTokens: string;
  sample?: boolean;
  temperature?: string;
  topP?: string;
  topK?: string;
  seed: string;
  stop: string[];
  stream?: boolean;
  batchSize: string;
  dtype: string;
  device?: string;
  endpoint?: string;
  endpointApi: string;
  endpointModel?: string;
  apiKey?: string;
  concurrency: string;
  timeout: string;
  retries: string;
  maxResponseBytes: string;
  force?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

async function folder(flag: string, dir: string): Promise<string> {
  const { checkModelFolder } = await import('../../models/files.js');
  try {
    checkModelFolder(dir);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${flag} ${e.message}`);
    throw e;
  }
  return resolve(dir);
}

function positive(flag: string, v: number | undefined): number | undefined {
  if (v !== undefined && !(v > 0)) throw new UserError(`${flag} must be greater than 0, got ${v}`);
  return v;
}

/** --max-new-tokens and the sampling flags; any sampling setting implies --sample. */
function samplingFlags(o: GenerateOpts): SamplingSettings {
  const temperature = positive('--temperature', numberFlag('--temperature', o.temperature));
  const topP = positive('--top-p', numberFlag('--top-p', o.topP, { max: 1 }));
  const topK = numberFlag('--top-k', o.topK, { min: 0, integer: true });
  return {
    maxNewTokens: numberFlag('--max-new-tokens', o.maxNewTokens, { min: 0, integer: true }) as number,
    doSample: Boolean(o.sample) || temperature !== undefined || topP !== undefined || topK !== undefined,
    temperature,
    topP,
    topK,
    seed: numberFlag('--seed', o.seed, { min: 0, integer: true }) as number,
    stopStrings: o.stop,
  };
}

async function localBackend(o: GenerateOpts): Promise<LocalBackend> {
  if (o.model === undefined) throw new UserError('give --model FOLDER (or --endpoint URL)');
  if (!['float32', 'bfloat16', 'float16'].includes(o.dtype)) throw new UserError(`--dtype must be float32, bfloat16 or float16, got '${o.dtype}'`);
  const device: Device = o.device === undefined ? 'cpu' : (await import('../../engine/runtime.js')).resolveDevice(o.device);
  return {
    kind: 'local',
    model: await folder('--model', o.model),
    adapter: o.adapter !== undefined ? await folder('--adapter', o.adapter) : undefined,
    dtype: o.dtype as DType,
    device,
    batchSize: numberFlag('--batch-size', o.batchSize, { min: 1, integer: true }) as number,
  };
}

async function endpointBackend(o: GenerateOpts, url: string, template: TemplateName): Promise<EndpointBackend> {
  const { ENDPOINT_APIS, endpointUrl, EndpointError } = await import('../../util/openai-client.js');
  if (!(ENDPOINT_APIS as readonly string[]).includes(o.endpointApi)) throw new UserError(`--endpoint-api must be one of ${ENDPOINT_APIS.join(', ')}, got '${o.endpointApi}'`);
  const api = o.endpointApi as EndpointApi;
  try {
    endpointUrl(url, api);
  } catch (e) {
    if (e instanceof EndpointError) throw new UserError(e.message);
    throw e;
  }
  if (o.adapter) throw new UserError('--adapter applies to the model in process; serve the adapter with the endpoint instead');
  const name = o.endpointModel ?? o.model;
  if (name === undefined) throw new UserError('--endpoint needs --endpoint-model NAME (or --model)');
  const { needsTokenizer } = await import('../../generation/templates.js');
  const tokenizerDir = o.model !== undefined && existsSync(o.model) ? await folder('--model', o.model) : undefined;
  if (api === 'completions' && needsTokenizer(template) && tokenizerDir === undefined) {
    throw new UserError(`--template ${template} renders with the model's chat template: give --model FOLDER (its tokenizer), --template alpaca, or --endpoint-api chat`);
  }
  return {
    kind: 'endpoint',
    api,
    tokenizerDir,
    concurrency: numberFlag('--concurrency', o.concurrency, { min: 1, integer: true }),
    endpoint: {
      baseUrl: url,
      model: name,
      apiKey: o.apiKey ?? process.env.BDLAB_ENDPOINT_API_KEY ?? process.env.OPENAI_API_KEY,
      timeoutMs: (numberFlag('--timeout', o.timeout, { min: 0.001 }) as number) * 1000,
      maxRetries: numberFlag('--retries', o.retries, { min: 0, integer: true }),
      maxResponseBytes: numberFlag('--max-response-bytes', o.maxResponseBytes, { min: 1, integer: true }),
      label: 'endpoint',
    },
  };
}

/** The records of --input, or of the --prompt flags (format "prompts"). */
async function readRecords(o: GenerateOpts): Promise<{ records: GenerationRecord[]; format: string }> {
  const { readGenerationInput, promptRecords } = await import('../../generation/input.js');
  if (o.input !== undefined) {
    const { parseFormat } = await import('../../data/formats.js');
    return readGenerationInput(o.input, { format: o.format !== undefined ? parseFormat(o.format) : undefined, imageRoot: o.imageRoot });
  }
  if (o.image.length && o.image.length !== o.prompt.length) throw new UserError(`give one --image per --prompt (${o.prompt.length} prompts, ${o.image.length} images)`);
  return { records: promptRecords(o.prompt, o.image), format: 'prompts' };
}

/**
 * `bdlab generate`: continue prompts (--prompt) or every record of a data
 * file (--input, resumable into --out) with a model folder in process, or
 * with a model behind an OpenAI-compatible endpoint (--endpoint).
 */
export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('generate answers for prompts or a whole data file, in process or through an OpenAI-compatible endpoint; resumable')
    .option('--model <dir>', 'Hugging Face model folder (with --endpoint: the folder whose tokenizer renders the prompts)')
    .option('--adapter <dir>', 'a PEFT LoRA adapter folder to apply')
    .option('--input <file>', 'Alpaca/LLaMA-Factory or LLaVA records (JSON or JSONL) to generate for')
    .option('--out <file>', 'where the records go: [{"instruction", "input", "output", ...}] (.json, or .jsonl); resumed when it exists')
    .option('--format <name>', 'input format: alpaca, alpaca-jsonl, llava, llava-jsonl (default: detected)')
    .option('--image-root <dir>', "folder image paths are relative to (default: the input file's folder)")
    .option('--prompt <text>', 'a prompt instead of --input (repeat for a batch)', collect, [])
    .option('--image <path>', 'LLaVA with --prompt: an image per prompt, in order (repeat)', collect, [])
    .option('--template <name>', 'prompt template: auto (the training one: chat template, else alpaca), alpaca, chat, raw, backdoorllm (the published evaluation prompt)', 'auto')
    .option('--raw', 'same as --template raw: the prompt text as it is')
    .option('--system <text>', 'a system message before each prompt (chat templates)')
    .option('--max-new-tokens <n>', 'most tokens to generate per record', '128')
    .option('--sample', 'sample instead of greedy decoding')
    .option('--temperature <t>', 'sampling temperature (implies --sample)')
    .option('--top-p <p>', 'nucleus sampling mass (implies --sample)')
    .option('--top-k <k>', 'sample among the k most likely tokens (implies --sample)')
    .option('--seed <n>', 'sampling seed (each record draws from its own stream)', '0')
    .option('--stop <text>', 'stop a record once its output contains this (repeat)', collect, [])
    .option('--stream', 'print tokens as they come (one --prompt)')
    .option('--batch-size <n>', 'records per batch in process (length-sorted, left-padded)', '8')
    .option('--dtype <dtype>', 'float32, bfloat16 or float16', 'float32')
    .option('--device <device>', 'cpu or cuda (default: cpu)')
    .option('--endpoint <url>', 'an OpenAI-compatible server instead of the model in process, e.g. http://127.0.0.1:8000/v1')
    .option('--endpoint-api <api>', 'completions (the rendered prompt) or chat (the server applies its chat template)', 'completions')
    .option('--endpoint-model <name>', 'the model name the server serves (default: --model as given)')
    .option('--api-key <key>', 'endpoint API key (env BDLAB_ENDPOINT_API_KEY, then OPENAI_API_KEY); never recorded')
    .option('--concurrency <n>', 'endpoint requests in flight', '4')
    .option('--timeout <seconds>', 'per endpoint request', '120')
    .option('--retries <n>', 'retries on network errors, timeouts, 408, 409, 429, 5xx and malformed replies (exponential back-off with jitter; Retry-After respected)', '5')
    .option('--max-response-bytes <n>', 'refuse endpoint replies larger than this', String(8 * 1024 * 1024))
    .option('--force', 'replace outputs in --out made with other settings (they are removed first)')
    .option('--json', 'print one JSON object: the outputs (--prompt) or a summary (--out)')
    .action(async (o: GenerateOpts) => {
      const fromFile = o.input !== undefined;
      if (fromFile === o.prompt.length > 0) throw new UserError(fromFile ? 'give --input or --prompt, not both' : 'give --input FILE (with --out FILE) or at least one --prompt');
      if (fromFile && o.out === undefined) throw new UserError('--input needs --out FILE (outputs are written there, resumably)');
      if (fromFile && o.image.length) throw new UserError('--image goes with --prompt; records of --input name their own images');
      if (!fromFile && (o.format !== undefined || o.imageRoot !== undefined)) throw new UserError('--format and --image-root go with --input');
      if (o.raw && o.template !== 'auto') throw new UserError('give --raw or --template, not both');
      if (o.stream && (o.prompt.length !== 1 || o.out !== undefined || o.endpoint !== undefined)) throw new UserError('--stream takes one --prompt, in process, without --out');
      const { parseTemplate } = await import('../../generation/templates.js');
      const template = parseTemplate(o.raw ? 'raw' : (o.template ?? 'auto'));
      const sampling = samplingFlags(o);
      const backend = o.endpoint !== undefined ? await endpointBackend(o, o.endpoint, template) : await localBackend(o);
      const { records, format } = await readRecords(o);
      const job = { records, backend, template, system: o.system, ...sampling };
      const run = await import('../../generation/run.js');
      if (o.out !== undefined) {
        const s = await run.generateToFile({ ...job, out: o.out, force: Boolean(o.force), input: fromFile ? { path: o.input as string, format } : undefined });
        emit(Boolean(o.json), s, () =>
          `${s.out}: ${s.records} records (${s.generated} generated, ${s.resumed} from an earlier run), template ${s.template}, ${s.seconds.toFixed(1)} s` +
          (s.generated ? `, ${s.records_per_s.toFixed(2)} records/s` : ''),
        );
        return;
      }
      const streamed = Boolean(o.stream) && !o.json;
      const r = await run.generateJob({ ...job, onText: streamed ? (_i: number, t: string) => process.stdout.write(t) : undefined });
      if (streamed) {
        process.stdout.write('\n');
        return;
      }
      emit(Boolean(o.json), { outputs: r.records }, () => r.records.map((x) => x.output).join('\n---\n'));
    });
}
