// A model folder's tokenizer: tokenizer.json through Hugging Face's
// tokenizers.js, special tokens from tokenizer_config.json, and the chat
// template (tokenizer_config.json `chat_template`, or chat_template.jinja)
// rendered with @huggingface/jinja — the one function that turns
// conversations into prompts, for training and evaluation alike.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../util/errors.js';
import { readJsonObjectFile } from '../util/json-limits.js';
import { MAX_CONFIG_FILE_BYTES, MAX_TOKENIZER_FILE_BYTES, REGEX_MS_PER_CHAR, REGEX_TIME_LIMIT_MS } from '../util/limits.js';
import { regexHazard, type RegexHazard } from '../util/regex-hazard.js';
import { readTextFile } from '../util/safe-fs.js';
import { TimeLimitExceeded, withTimeLimit } from '../util/time-limit.js';
import { ChatTemplate } from './chat-template.js';
import { checkModelFolder } from './files.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

export interface ChatTemplateOptions {
  /** End with the assistant's turn opened, ready for generation. */
  addGenerationPrompt?: boolean;
  /** Extra variables the template may read. */
  extra?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** A JSON object file of the folder, within a size limit: "<path>: cannot read (<why>)". */
function readJson(path: string, maxBytes: number): Json {
  try {
    return readJsonObjectFile(path, maxBytes, basename(path));
  } catch (e) {
    const m = (e as Error).message;
    throw new UserError(`${path}: cannot read (${m.startsWith(`${path}: `) ? m.slice(path.length + 2) : m})`);
  }
}

/** A regular expression of a tokenizer.json and where it sits (a JSON path). */
export interface TokenizerRegex {
  at: string;
  pattern: string;
}

/** Every `"pattern": {"Regex": ...}` of a tokenizer.json (normalizers, pre-tokenizers, decoders). */
function tokenizerRegexes(j: unknown, at = ''): TokenizerRegex[] {
  if (typeof j !== 'object' || j === null) return [];
  const out: TokenizerRegex[] = [];
  for (const [k, v] of Object.entries(j as Json)) {
    const here = Array.isArray(j) ? `${at}[${k}]` : at ? `${at}.${k}` : k;
    if (k === 'pattern' && typeof v === 'object' && v !== null && typeof (v as Json).Regex === 'string') out.push({ at: `${here}.Regex`, pattern: (v as Json).Regex as string });
    else out.push(...tokenizerRegexes(v, here));
  }
  return out;
}

/** A special-token entry is a string or an AddedToken object {content: ...}. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

export class TextTokenizer {
  private readonly tok: Tokenizer;
  private readonly template: ChatTemplate | null;
  /** The first regular expression that may backtrack badly: with one, every call into the tokenizer runs under a time limit. */
  private readonly risky: (TokenizerRegex & { hazard: RegexHazard }) | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly unkToken: string | null;
  /** The chat template's Jinja source, if any. */
  readonly chatTemplateSource: string | null;

  constructor(
    readonly tokenizerJson: Json,
    readonly config: Json,
    chatTemplate: string | null,
    readonly where = 'tokenizer',
  ) {
    try {
      this.tok = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      throw new UserError(`${where}: tokenizer.json cannot be loaded (${(e as Error).message})`);
    }
    this.risky = null;
    for (const r of tokenizerRegexes(tokenizerJson)) {
      const hazard = regexHazard(r.pattern);
      if (hazard) {
        this.risky = { ...r, hazard };
        break;
      }
    }
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    this.padToken = tokenText(config.pad_token);
    this.unkToken = tokenText(config.unk_token);
    this.chatTemplateSource = chatTemplate;
    try {
      this.template = chatTemplate ? new ChatTemplate(chatTemplate) : null;
    } catch (e) {
      throw new UserError(`${where}: the chat template does not parse (${(e as Error).message})`);
    }
  }

  /** Loads tokenizer.json, tokenizer_config.json and the chat template from a model folder. */
  static load(dir: string): TextTokenizer {
    checkModelFolder(dir);
    const tj = join(dir, 'tokenizer.json');
    if (!existsSync(tj)) throw new UserError(`${tj}: not found (the model folder has no fast tokenizer; give token ids instead)`);
    const json = readJson(tj, MAX_TOKENIZER_FILE_BYTES);
    const cfgPath = join(dir, 'tokenizer_config.json');
    const cfg = existsSync(cfgPath) ? readJson(cfgPath, MAX_CONFIG_FILE_BYTES) : {};
    let template: string | null = null;
    const ct = cfg.chat_template;
    if (typeof ct === 'string') template = ct;
    else if (Array.isArray(ct)) {
      // a list of named templates: take "default"
      const d = ct.find((x: unknown) => typeof x === 'object' && x !== null && (x as Json).name === 'default') as Json | undefined;
      template = typeof d?.template === 'string' ? d.template : null;
    }
    const jinjaPath = join(dir, 'chat_template.jinja');
    if (template === null && existsSync(jinjaPath)) template = readTextFile(jinjaPath, MAX_CONFIG_FILE_BYTES, 'a chat template', 'a Jinja template');
    return new TextTokenizer(json, cfg, template, dir);
  }

  private id(token: string | null): number | null {
    if (token === null) return null;
    return this.tok.token_to_id(token) ?? null;
  }
  get bosTokenId(): number | null {
    return this.id(this.bosToken);
  }
  get eosTokenId(): number | null {
    return this.id(this.eosToken);
  }
  get padTokenId(): number | null {
    return this.id(this.padToken);
  }
  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }
  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }
  /** Vocabulary size including added tokens. */
  get vocabSize(): number {
    return this.tok.get_vocab(true).size;
  }

  /**
   * Runs a call into the tokenizer; with a risky regular expression, under a
   * time limit that grows with the input, so a pattern that backtracks
   * catastrophically ends in an error naming it instead of a hang.
   */
  private bounded<T>(size: number, what: string, fn: () => T): T {
    if (!this.risky) return fn();
    const ms = Math.round(REGEX_TIME_LIMIT_MS + size * REGEX_MS_PER_CHAR);
    try {
      return withTimeLimit(fn, ms);
    } catch (e) {
      if (!(e instanceof TimeLimitExceeded)) throw e;
      const r = this.risky;
      const shown = r.pattern.length > 80 ? `${r.pattern.slice(0, 77)}...` : r.pattern;
      throw new UserError(
        `${this.where === 'tokenizer' ? 'tokenizer.json' : join(this.where, 'tokenizer.json')}: ${what} took more than ${ms} ms; ` +
          `the regular expression ${JSON.stringify(shown)} at ${r.at} can backtrack catastrophically (${r.hazard.reason})`,
      );
    }
  }

  /** Token ids of text; special tokens (BOS) added per the tokenizer's post-processor unless disabled. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.bounded(text.length, `tokenising a ${text.length}-character text`, () => this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids);
  }

  tokens(text: string, opts: { addSpecialTokens?: boolean } = {}): string[] {
    return this.bounded(text.length, `tokenising a ${text.length}-character text`, () => this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).tokens);
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // tokenizers.js rejects an empty list
    return this.bounded(ids.length * 16, `decoding ${ids.length} tokens`, () => this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? true }));
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /** The conversation rendered by the chat template, as text. */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (!this.template) throw new UserError(`${this.where}: the tokenizer has no chat template`);
    try {
      return this.template.render({
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        bos_token: this.bosToken ?? '',
        eos_token: this.eosToken ?? '',
        pad_token: this.padToken ?? '',
        unk_token: this.unkToken ?? '',
        ...(opts.extra ?? {}),
      });
    } catch (e) {
      throw new UserError(`${this.where}: the chat template failed to render (${(e as Error).message})`);
    }
  }

  /**
   * Token ids of a rendered conversation. The template writes its own BOS, so
   * no special tokens are added on top (as transformers' apply_chat_template).
   */
  encodeChat(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts), { addSpecialTokens: false });
  }
}
