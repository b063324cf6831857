import { MAX_JUDGE_REPLY_BYTES } from '../../util/limits.js';
import { formatBytes } from '../../util/safe-fs.js';

/**
 * A minimal client for OpenAI-compatible chat completion endpoints (OpenAI,
 * vLLM, llama.cpp server, Ollama's /v1): POST {base}/chat/completions with
 * `fetch`. Retries on network errors, 408, 429 and 5xx with exponential
 * back-off; each request has its own timeout, which covers the reply's body,
 * and a reply longer than MAX_JUDGE_REPLY_BYTES is cut off and refused.
 */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatClientOptions {
  /** e.g. "http://127.0.0.1:8000/v1"; a URL already ending in /chat/completions is used as is. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  temperature?: number;
  maxTokens?: number;
  timeoutMs?: number;
  maxRetries?: number;
  /** First back-off delay; doubles on each retry. */
  retryDelayMs?: number;
  /** Longest reply accepted (default MAX_JUDGE_REPLY_BYTES). */
  maxReplyBytes?: number;
}

export class JudgeHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'JudgeHttpError';
  }
}

export function completionsUrl(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new JudgeHttpError(`judge base URL is not a URL: ${JSON.stringify(baseUrl)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new JudgeHttpError(`judge base URL must be http(s): ${baseUrl}`);
  const s = baseUrl.replace(/\/+$/, '');
  return s.endsWith('/chat/completions') ? s : `${s}/chat/completions`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The reply's body as text, refused past `max` bytes (an endless reply must not fill memory). */
async function readBody(res: Response, url: string, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new JudgeHttpError(`judge endpoint ${url}: the reply exceeds the ${formatBytes(max)} limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends one chat completion and returns the reply text. */
export async function chatComplete(opts: ChatClientOptions, messages: readonly ChatMessage[]): Promise<string> {
  const url = completionsUrl(opts.baseUrl);
  const body = JSON.stringify({
    model: opts.model,
    messages,
    temperature: opts.temperature ?? 0,
    max_tokens: opts.maxTokens ?? 512,
  });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const maxRetries = opts.maxRetries ?? 3;
  let delay = opts.retryDelayMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000) });
      text = await readBody(res, url, opts.maxReplyBytes ?? MAX_JUDGE_REPLY_BYTES);
    } catch (e) {
      if (e instanceof JudgeHttpError) throw e;
      const why = (e as Error).name === 'TimeoutError' ? `timed out after ${opts.timeoutMs ?? 120_000} ms` : ((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message);
      if (attempt < maxRetries) {
        await sleep(delay);
        delay *= 2;
        continue;
      }
      throw new JudgeHttpError(`judge request to ${url} failed: ${why}`);
    }
    if (!res.ok) {
      if (retryable(res.status) && attempt < maxRetries) {
        await sleep(delay);
        delay *= 2;
        continue;
      }
      throw new JudgeHttpError(`judge endpoint ${url} answered HTTP ${res.status}: ${text.slice(0, 200).replace(/\s+/g, ' ')}`, res.status);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new JudgeHttpError(`judge endpoint ${url} answered with non-JSON: ${text.slice(0, 200).replace(/\s+/g, ' ')}`);
    }
    const content = (data as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new JudgeHttpError(`judge endpoint ${url}: reply has no choices[0].message.content`);
    return content;
  }
}
