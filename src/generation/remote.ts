// Generation through an OpenAI-compatible server (vLLM, llama.cpp server,
// Ollama) with the same rendered prompts as in process: /v1/completions gets
// the prompt text (a BOS the template wrote is left to the server, which
// adds its own), /v1/chat/completions gets the conversation and renders the
// server's chat template (an image goes with it as a data URL in OpenAI's
// vision format; the completions API takes none). Up to `concurrency` requests in flight; the client
// retries (src/util/openai-client.ts). On a failure no new request starts,
// the ones in flight finish and are reported, then the error is thrown.
import { readFileSync } from 'node:fs';
import { sniffFormat } from '../data/image-io.js';
import { userMessage } from '../models/prompt.js';
import { UserError } from '../util/errors.js';
import { chatCompletion, textComplete, type ChatMessage, type Completion, type ContentPart, type EndpointApi, type EndpointOptions } from '../util/openai-client.js';
import { generatedRecord, recordRng, DEFAULT_MAX_NEW_TOKENS, type GeneratedRecord, type SamplingSettings } from './batch.js';
import type { PreparedPrompt } from './prepare.js';
import { answerOf } from './templates.js';

export interface RemoteOptions extends SamplingSettings {
  endpoint: EndpointOptions;
  /** completions (default): the rendered prompt; chat: the conversation. */
  api?: EndpointApi;
  /** Requests in flight (default 4). */
  concurrency?: number;
  /** The tokenizer's BOS text: removed from the start of a prompt whose template wrote it. */
  bosToken?: string | null;
  /** After each record (in completion order). */
  onRecord?: (done: { prepared: PreparedPrompt; result: GeneratedRecord }) => void;
}

/** The prompt text sent to /v1/completions. */
function endpointPromptText(p: PreparedPrompt, bosToken: string | null | undefined): string {
  const t = p.prompt.text;
  // the server adds its own BOS
  return bosToken && t.startsWith(bosToken) ? t.slice(bosToken.length) : t;
}

/** The conversation sent to a chat API: the user turn carries the image, where the placeholder was. */
function endpointMessages(p: PreparedPrompt): ChatMessage[] {
  const msgs = p.prompt.messages ?? [];
  const path = p.record.imagePath;
  if (path === undefined) return msgs;
  const bytes = readFileSync(path);
  const url = `data:image/${sniffFormat(bytes) ?? 'png'};base64,${bytes.toString('base64')}`;
  const text: ContentPart = { type: 'text', text: userMessage({ instruction: p.record.instruction, input: p.record.input }) };
  const image: ContentPart = { type: 'image_url', image_url: { url } };
  const parts = p.record.imageFrame?.suffix ? [text, image] : [image, text];
  return msgs.map((m, i) => (i === msgs.length - 1 ? { role: m.role, content: parts } : m));
}

/** Generates for every prepared prompt through the endpoint; returns the records in the order given. */
export async function generateRemote(prepared: readonly PreparedPrompt[], o: RemoteOptions): Promise<GeneratedRecord[]> {
  const api = o.api ?? 'completions';
  const concurrency = o.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  if (o.stopStrings?.length && prepared.some((p) => p.prompt.template === 'backdoorllm')) {
    throw new RangeError('stop strings do not go with the backdoorllm template (the published evaluation has none)');
  }
  if (api === 'completions') {
    const img = prepared.find((p) => p.record.imagePath !== undefined);
    if (img) throw new UserError(`record ${img.record.index} has an image: images go to an endpoint through --endpoint-api chat`);
  }
  const results: GeneratedRecord[] = new Array(prepared.length);
  let next = 0;
  let failure: unknown = null;
  const one = async (p: PreparedPrompt): Promise<Completion> => {
    const params = {
      maxTokens: o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
      temperature: o.doSample ? (o.temperature ?? 1) : 0,
      ...(o.doSample && o.topP !== undefined ? { topP: o.topP } : {}),
      ...(o.doSample && o.topK !== undefined ? { topK: o.topK } : {}),
      ...(o.doSample ? { seed: recordRng(o.seed ?? 0, p.key).u32() } : {}),
      stop: o.stopStrings,
    };
    const ep = { ...o.endpoint, seed: o.endpoint.seed ?? o.seed };
    return api === 'chat' ? chatCompletion(ep, endpointMessages(p), params) : textComplete(ep, endpointPromptText(p, o.bosToken), params);
  };
  const worker = async (): Promise<void> => {
    while (failure === null && next < prepared.length) {
      const i = next++;
      const p = prepared[i] as PreparedPrompt;
      let c: Completion;
      try {
        c = await one(p);
      } catch (e) {
        failure ??= e;
        return;
      }
      const output = answerOf(p.prompt.template, p.sample, () => endpointPromptText(p, o.bosToken) + c.text, c.text);
      const result = generatedRecord(p, output, c.finishReason, c.completionTokens);
      results[i] = result;
      o.onRecord?.({ prepared: p, result });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, prepared.length)) }, worker));
  if (failure !== null) throw failure;
  return results;
}
