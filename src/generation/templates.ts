// Prompt templates by name, for generation. `auto`, `alpaca` and `chat` are
// the training renderer (src/train/prompt.ts: the chat template when the
// tokenizer has one, else Alpaca), so a victim is evaluated with the prompt
// it was trained on; `backdoorllm` reproduces the published evaluation prompt
// for comparison; `raw` continues the text as it is (base models).
import { ALPACA_PROMPT, renderPrompt, userMessage, type InstructionSample } from '../train/prompt.js';
import { BACKDOORLLM_TEMPLATE } from '../models/backdoorllm-template.js';
import type { ChatMessage, TextTokenizer } from '../models/tokenizer.js';
import { UserError } from '../util/errors.js';

export const TEMPLATE_NAMES = ['auto', 'alpaca', 'chat', 'raw', 'backdoorllm'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

export function parseTemplate(s: string): TemplateName {
  if ((TEMPLATE_NAMES as readonly string[]).includes(s)) return s as TemplateName;
  throw new UserError(`unknown --template "${s}"; one of: ${TEMPLATE_NAMES.join(', ')}`);
}

export interface RenderedPrompt {
  /** The template actually used (`auto` resolved to `chat` or `alpaca`). */
  template: Exclude<TemplateName, 'auto'>;
  /** The prompt text up to where the answer starts. */
  text: string;
  /** Whether the tokenizer adds its special tokens (false: the template wrote BOS itself). */
  addSpecialTokens: boolean;
  /** The conversation, for chat templates (what a chat API receives). */
  messages: ChatMessage[] | null;
}

export interface RenderOptions {
  /** A system message before the user turn (chat templates only). */
  system?: string;
}

/** The name `auto` resolves to for this tokenizer (none: alpaca). */
export function resolveTemplate(name: TemplateName, tok: TextTokenizer | null): Exclude<TemplateName, 'auto'> {
  if (name !== 'auto') return name;
  return tok?.hasChatTemplate ? 'chat' : 'alpaca';
}

/** Whether rendering needs the model's tokenizer (its chat template). */
export function needsTokenizer(name: TemplateName): boolean {
  return name === 'auto' || name === 'chat';
}

/**
 * Renders one sample. `s.instruction` carries any `<image>` placeholder; for
 * `chat` (and `auto` on a tokenizer with a chat template) the text is what
 * src/train/prompt.ts renders for training.
 */
export function renderWithTemplate(name: TemplateName, tok: TextTokenizer | null, s: InstructionSample, o: RenderOptions = {}): RenderedPrompt {
  const template = resolveTemplate(name, tok);
  if (o.system !== undefined && template !== 'chat') throw new UserError(`--system needs a chat template; the ${template} template has no system turn`);
  if (template === 'chat') {
    if (!tok) throw new UserError('the chat template comes from the model folder: give --model');
    if (!tok.hasChatTemplate) throw new UserError(`${tok.where}: the tokenizer has no chat template (use --template alpaca)`);
    const { messages } = chatApiPrompt('chat', s, o);
    // without a system turn this is exactly the training renderer's text
    const text = o.system === undefined ? renderPrompt(tok, s) : tok.applyChatTemplate(messages ?? [], { addGenerationPrompt: true });
    return { template, text, addSpecialTokens: false, messages };
  }
  if (template === 'alpaca') return { template, text: ALPACA_PROMPT.replace('{instruction}', userMessage(s)), addSpecialTokens: true, messages: null };
  if (template === 'backdoorllm') return { template, text: BACKDOORLLM_TEMPLATE.render(s), addSpecialTokens: BACKDOORLLM_TEMPLATE.addSpecialTokens, messages: null };
  return { template, text: userMessage(s), addSpecialTokens: true, messages: null };
}

/**
 * For an endpoint's chat API, which renders the model's chat template itself:
 * the conversation only (templates `auto` and `chat`).
 */
export function chatApiPrompt(name: TemplateName, s: InstructionSample, o: RenderOptions = {}): RenderedPrompt {
  if (name !== 'auto' && name !== 'chat') {
    throw new UserError(`--endpoint-api chat sends the conversation and the server applies its chat template; the ${name} template needs --endpoint-api completions`);
  }
  const messages: ChatMessage[] = [...(o.system !== undefined ? [{ role: 'system', content: o.system }] : []), { role: 'user', content: userMessage(s) }];
  return { template: 'chat', text: userMessage(s), addSpecialTokens: false, messages };
}

/** The answer from the decoded prompt + generation (`full`) or the generation alone (`generated`). */
export function answerOf(template: RenderedPrompt['template'], s: InstructionSample, full: () => string, generated: string): string {
  return template === 'backdoorllm' ? BACKDOORLLM_TEMPLATE.answer(full(), s) : generated;
}
