// Prompt templates for generation: the one renderer of src/models/prompt.ts
// (training renders with it too, so a victim is evaluated with the prompt it
// was trained on), plus what an endpoint's chat API needs (the conversation
// without the template, which the server applies itself).
import { AUTO_TEMPLATE, encodePrompt, isTemplateName, renderPrompt, resolveTemplate as resolveNamed, templateNames, TEMPLATES, userMessage, type InstructionSample } from '../models/prompt.js';
import type { ChatMessage, TextTokenizer } from '../models/tokenizer.js';
import { UserError } from '../util/errors.js';

/** A template name as `--template` takes it (`auto` or an entry of TEMPLATES). */
export type TemplateName = string;

export function parseTemplate(s: string): TemplateName {
  if (isTemplateName(s)) return s;
  throw new UserError(`unknown --template "${s}"; one of: ${templateNames().join(', ')}`);
}

export interface RenderedPrompt {
  /** The template actually used (`auto` resolved). */
  template: string;
  /** The prompt text up to where the answer starts (special tokens as text; what an endpoint is sent). */
  text: string;
  /** The conversation, for an endpoint's chat API (null otherwise). */
  messages: ChatMessage[] | null;
  /** The sample as rendered (to encode it with the same renderer). */
  sample: InstructionSample;
}

export interface RenderOptions {
  /** A system message before the user turn (chat templates only). */
  system?: string;
}

/** The name `auto` resolves to for this tokenizer. */
export function resolveTemplate(name: TemplateName, tok: TextTokenizer | null): string {
  return resolveNamed(tok, name).name;
}

/** Whether rendering needs the model's tokenizer (its chat template). */
export function needsTokenizer(name: TemplateName): boolean {
  return name === AUTO_TEMPLATE || Boolean(TEMPLATES[name]?.needsTokenizer);
}

/**
 * Renders one sample. `s.instruction` carries any `<image>` placeholder (the
 * record's own framing), so the sample is rendered without an `image` field.
 */
export function renderWithTemplate(name: TemplateName, tok: TextTokenizer | null, s: InstructionSample, o: RenderOptions = {}): RenderedPrompt {
  const t = resolveNamed(tok, name);
  if (o.system !== undefined && t.name !== 'chat') throw new UserError(`--system needs a chat template; the ${t.name} template has no system turn`);
  const sample: InstructionSample = { instruction: s.instruction, input: s.input, ...(o.system !== undefined ? { system: o.system } : {}) };
  return { template: t.name, text: renderPrompt(tok, sample, t.name), messages: null, sample };
}

/** The prompt's token ids, exactly as training encodes it. */
export function encodeRendered(tok: TextTokenizer, p: RenderedPrompt): number[] {
  return encodePrompt(tok, p.sample, p.template);
}

/**
 * For an endpoint's chat API, which renders the model's chat template itself:
 * the conversation only (templates `auto` and `chat`).
 */
export function chatApiPrompt(name: TemplateName, s: InstructionSample, o: RenderOptions = {}): RenderedPrompt {
  if (name !== AUTO_TEMPLATE && name !== 'chat') {
    throw new UserError(`--endpoint-api chat sends the conversation and the server applies its chat template; the ${name} template needs --endpoint-api completions`);
  }
  const messages: ChatMessage[] = [...(o.system !== undefined ? [{ role: 'system', content: o.system }] : []), { role: 'user', content: userMessage(s) }];
  return { template: 'chat', text: userMessage(s), messages, sample: s };
}

/** The answer from the decoded prompt + generation (`full`) or the generation alone (`generated`). */
export function answerOf(template: string, s: InstructionSample, full: () => string, generated: string): string {
  const t = TEMPLATES[template];
  return t?.answerFromDecoded ? t.answerFromDecoded(full(), s) : generated;
}
