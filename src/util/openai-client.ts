/**
 * The one client for OpenAI-compatible endpoints (OpenAI, vLLM, llama.cpp
 * server, Ollama's /v1), used by the LLM judge and by `bdlab generate
 * --endpoint`: POST {base}/chat/completions or {base}/completions with
 * `fetch`.
 *
 * Contract:
 * - each attempt has its own timeout (covering the body too) and reads at
 *   most `maxResponseBytes` of the reply;
 * - network errors, timeouts, 408, 409, 429, 5xx and replies that are not the
 *   expected JSON are retried up to `maxRetries` times, with exponential
 *   back-off (`retryDelayMs` · 2^attempt, at most `maxDelayMs`) and jitter
 *   (a seeded draw in [½, 1] of that delay); a `Retry-After` header (seconds
 *   or an HTTP date) is waited for instead when it asks for longer, and one
 *   asking for more than `maxRetryAfterMs` ends the call;
 * - other HTTP errors fail at once; every failure is an `EndpointError` whose
 *   message is one line naming the URL.
 */
import { MAX_JUDGE_REPLY_BYTES } from './limits.js';
import { Rng } from './rng.js';

export type EndpointApi = 'chat' | 'completions';
export const ENDPOINT_APIS: readonly EndpointApi[] = ['completions', 'chat'];

/** A part of a multimodal user turn (OpenAI's vision format, which vLLM, llama.cpp and Ollama read). */
export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string | ContentPart[];
}

export interface EndpointOptions {
  /** e.g. "http://127.0.0.1:8000/v1"; a URL already ending in /chat/completions or /completions is used as is. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Per-attempt timeout (default 120 s). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3). */
  maxRetries?: number;
  /** First back-off delay (default 500 ms); doubles on each retry. */
  retryDelayMs?: number;
  /** Longest back-off delay (default 30 s). */
  maxDelayMs?: number;
  /** Longest Retry-After the client waits for (default 10 min). */
  maxRetryAfterMs?: number;
  /** Replies larger than this are refused (default 8 MiB). */
  maxResponseBytes?: number;
  /** Seed of the back-off jitter (default 0). */
  seed?: number;
  /** Names the service in error messages ("judge", "endpoint"). */
  label?: string;
  /** Called before each retry (progress displays, tests). */
  onRetry?: (e: { attempt: number; delayMs: number; reason: string }) => void;
}

export class EndpointError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EndpointError';
  }
}

/** The request URL for an API on a base URL; throws EndpointError for a URL that is not http(s). */
export function endpointUrl(baseUrl: string, api: EndpointApi, label = 'endpoint'): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new EndpointError(`${label} base URL is not a URL: ${JSON.stringify(baseUrl)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new EndpointError(`${label} base URL must be http(s): ${baseUrl}`);
  const s = baseUrl.replace(/\/+$/, '');
  const path = api === 'chat' ? '/chat/completions' : '/completions';
  if (s.endsWith('/chat/completions')) return api === 'chat' ? s : s.slice(0, -'/chat/completions'.length) + path;
  if (s.endsWith('/completions')) return api === 'completions' ? s : s.slice(0, -'/completions'.length) + path;
  return s + path;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Milliseconds a Retry-After header asks for, or null. */
function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const h = header.trim();
  if (/^\d+(\.\d+)?$/.test(h)) return Number(h) * 1000;
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}

const oneLine = (s: string, n = 200): string => s.slice(0, n).replace(/\s+/g, ' ').trim();

/** A failure of one attempt: retried when `retry` is set. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly status?: number,
    readonly waitMs?: number | null,
  ) {
    super(message);
  }
}

/** Reads a reply body up to `limit` bytes (a longer one is cancelled). */
async function readBody(res: Response, limit: number, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new AttemptError(`reply from ${url} is ${declared} bytes, more than the limit of ${limit}`, false, res.status);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      await reader.cancel().catch(() => undefined);
      throw new AttemptError(`reply from ${url} exceeds the limit of ${limit} bytes`, false, res.status);
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * POSTs `body` as JSON and returns what `parse` makes of the JSON reply,
 * retrying as the contract above says. `parse` returns null for a reply of
 * the wrong shape (retried like a malformed one).
 */
async function postJson<T>(url: string, body: unknown, o: EndpointOptions, parse: (data: unknown) => T | null, what: string): Promise<T> {
  const label = o.label ?? 'endpoint';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
  const text = JSON.stringify(body);
  const timeout = o.timeoutMs ?? 120_000;
  const maxRetries = o.maxRetries ?? 3;
  const base = o.retryDelayMs ?? 500;
  const maxDelay = o.maxDelayMs ?? 30_000;
  const maxRetryAfter = o.maxRetryAfterMs ?? 600_000;
  const limit = o.maxResponseBytes ?? MAX_JUDGE_REPLY_BYTES;
  const jitter = new Rng(o.seed ?? 0, 'endpoint-backoff', text);
  for (let attempt = 0; ; attempt++) {
    let err: AttemptError;
    try {
      const res = await fetch(url, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(timeout) });
      const reply = await readBody(res, limit, url);
      if (!res.ok) {
        err = new AttemptError(`${label} ${url} answered HTTP ${res.status}: ${oneLine(reply)}`, retryableStatus(res.status), res.status, retryAfterMs(res.headers.get('retry-after')));
      } else {
        let data: unknown;
        let parsed = false;
        try {
          data = JSON.parse(reply);
          parsed = true;
        } catch {
          // malformed: retried below
        }
        const out = parsed ? parse(data) : null;
        if (out !== null) return out;
        err = new AttemptError(
          parsed ? `${label} ${url}: reply has no ${what}: ${oneLine(reply)}` : `${label} ${url} answered with non-JSON: ${oneLine(reply)}`,
          true,
          res.status,
        );
      }
    } catch (e) {
      if (e instanceof AttemptError) err = e;
      else {
        const x = e as Error & { cause?: Error };
        const why = x.name === 'TimeoutError' ? `timed out after ${timeout} ms` : (x.cause?.message ?? x.message);
        err = new AttemptError(`${label} request to ${url} failed: ${why}`, true);
      }
    }
    if (!err.retry || attempt >= maxRetries) {
      const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
      throw new EndpointError(err.message + tries, err.status);
    }
    const backoff = Math.min(maxDelay, base * 2 ** attempt);
    let delay = backoff * (0.5 + 0.5 * jitter.float());
    if (err.waitMs != null) {
      if (err.waitMs > maxRetryAfter) throw new EndpointError(`${err.message} (the server asks to retry after ${Math.round(err.waitMs / 1000)} s)`, err.status);
      delay = Math.max(delay, err.waitMs);
    }
    o.onRetry?.({ attempt: attempt + 1, delayMs: delay, reason: err.message });
    await sleep(delay);
  }
}

export interface CompletionParams {
  maxTokens?: number;
  /** 0: greedy. */
  temperature?: number;
  topP?: number;
  /** Not in OpenAI's API; vLLM, llama.cpp and Ollama read it. */
  topK?: number;
  seed?: number;
  stop?: string[];
}

export interface Completion {
  text: string;
  /** As the server reports it ("stop", "length", ...), or null. */
  finishReason: string | null;
  /** usage.completion_tokens, when the server reports it. */
  completionTokens: number | null;
}

function params(p: CompletionParams): Record<string, unknown> {
  return {
    max_tokens: p.maxTokens ?? 512,
    temperature: p.temperature ?? 0,
    ...(p.topP !== undefined ? { top_p: p.topP } : {}),
    ...(p.topK !== undefined ? { top_k: p.topK } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(p.stop?.length ? { stop: p.stop } : {}),
  };
}

function completionOf(data: unknown, key: 'text' | 'message'): Completion | null {
  const choice = (data as { choices?: unknown[] } | null)?.choices?.[0] as Record<string, unknown> | undefined;
  if (!choice || typeof choice !== 'object') return null;
  const text = key === 'text' ? choice.text : (choice.message as { content?: unknown } | undefined)?.content;
  if (typeof text !== 'string') return null;
  const usage = (data as { usage?: { completion_tokens?: unknown } }).usage;
  const ct = usage?.completion_tokens;
  return { text, finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null, completionTokens: typeof ct === 'number' && Number.isInteger(ct) ? ct : null };
}

/** One text completion (POST /completions) of a rendered prompt. */
export function textComplete(o: EndpointOptions, prompt: string, p: CompletionParams = {}): Promise<Completion> {
  return postJson(endpointUrl(o.baseUrl, 'completions', o.label), { model: o.model, prompt, ...params(p) }, o, (d) => completionOf(d, 'text'), 'choices[0].text');
}

/** One chat completion (POST /chat/completions); the server renders its chat template. */
export function chatCompletion(o: EndpointOptions, messages: readonly ChatMessage[], p: CompletionParams = {}): Promise<Completion> {
  return postJson(endpointUrl(o.baseUrl, 'chat', o.label), { model: o.model, messages, ...params(p) }, o, (d) => completionOf(d, 'message'), 'choices[0].message.content');
}

/** The reply text of one chat completion (temperature 0 unless given). */
export async function chatComplete(o: EndpointOptions & { temperature?: number; maxTokens?: number }, messages: readonly ChatMessage[]): Promise<string> {
  return (await chatCompletion(o, messages, { temperature: o.temperature ?? 0, maxTokens: o.maxTokens ?? 512 })).text;
}
