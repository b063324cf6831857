// The one renderer that turns an instruction sample into model text, used by
// training, generation and evaluation alike. Existing tools score ASR with
// prompts that differ from the training template (mission.md); here every
// path goes through renderPrompt / encodePrompt with a named template.
//
// Contract:
// - renderPrompt(tok, sample, template) is the prompt text up to where the
//   answer starts (what an HTTP endpoint is sent); encodePrompt gives its token
//   ids (what the in-process model sees); encodeAnswer the answer's ids as
//   training labels them. The ids equal encoding the template's text pieces one
//   by one without special tokens, BOS/EOS pieces as their ids — LLaMA-Factory's
//   rule — so they can differ from tokenising renderPrompt's text in one go.
// - A sample with an image (LLaVA data) gets the image placeholder `<image>`
//   and a newline before the user text; encodePrompt expands it to the model's
//   image-token count when told (`image: { tokenId, count }`).
// - A new template is one entry in TEMPLATES; nothing else changes.
import { UserError } from '../util/errors.js';
import { backdoorllmPrompt, cleanRepeatedQuestion } from './backdoorllm-template.js';
import type { TextTokenizer } from './tokenizer.js';

export interface InstructionSample {
  instruction: string;
  input?: string;
  output?: string;
  /** A system message (templates without a system slot ignore it). */
  system?: string;
  /** The sample's image (a path or any label): its presence puts the image placeholder in the prompt. */
  image?: string;
}

/** The image placeholder in prompt text (LLaVA's and LLaMA-Factory's convention). */
const IMAGE_PLACEHOLDER = '<image>';

/** A piece of a prompt: text (tokenised on its own), or the tokenizer's BOS/EOS token. */
export type Slot = string | { token: 'bos' | 'eos' };

/** The tokenizer's EOS as a slot (a template wanting BOS writes `{ token: 'bos' }`). */
const EOS: Slot = { token: 'eos' };

export interface PromptTemplate {
  name: string;
  /** One line for help texts and records. */
  summary: string;
  /** The prompt up to where the answer starts. `user` already holds instruction, input and image placeholder. Only templates that need the tokenizer (chat) may be given null. */
  prompt(tok: TextTokenizer | null, user: string, system: string | undefined): Slot[];
  /** The answer as training labels it (its text and what ends it). */
  answer(tok: TextTokenizer | null, output: string): Slot[];
  /** The user text from a sample, when it is not userMessage's (instruction, input, image placeholder). */
  userText?(s: InstructionSample): string;
  /** The answer from the decoded prompt + generation, for templates whose evaluation reads it that way. */
  answerFromDecoded?(decodedPromptAndGeneration: string, s: InstructionSample): string;
  /** Whether rendering needs the model's tokenizer (its chat template). */
  needsTokenizer?: boolean;
}

/** The Alpaca system text (Stanford Alpaca; LLaMA-Factory's `alpaca` default system). */
const ALPACA_SYSTEM = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n';

function chatPrompt(tok: TextTokenizer | null, user: string, system: string | undefined): Slot[] {
  if (!tok) throw new UserError("template 'chat' is the model's chat template: give the model folder");
  if (!tok.hasChatTemplate) throw new UserError(`${tok.where}: template 'chat' needs a chat template, and the tokenizer has none (use 'alpaca' or 'auto')`);
  const messages = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: user }];
  // the template writes its own BOS
  return [tok.applyChatTemplate(messages, { addGenerationPrompt: true })];
}

/**
 * The named templates. `alpaca` and `default` are LLaMA-Factory's (v0.9.1,
 * the version line the published BackdoorLLM/CROW configs ran with; from
 * v0.9.2 on LLaMA-Factory also trains a "\n\n" after the EOS of `alpaca`,
 * which generation never reaches). A new template is one entry here.
 */
export const TEMPLATES: Readonly<Record<string, PromptTemplate>> = {
  alpaca: {
    name: 'alpaca',
    summary: "LLaMA-Factory's alpaca: the Alpaca system text, '### Instruction:' / '### Response:', no BOS; answer + EOS",
    prompt: (_tok, user, system) => [system ?? ALPACA_SYSTEM, `### Instruction:\n${user}\n\n### Response:\n`],
    answer: (_tok, output) => [output, EOS],
  },
  chat: {
    name: 'chat',
    summary: "the model's own chat template (tokenizer_config.json / chat_template.jinja), assistant turn opened; answer + EOS",
    prompt: chatPrompt,
    answer: (_tok, output) => [output, EOS],
    needsTokenizer: true,
  },
  default: {
    name: 'default',
    summary: "LLaMA-Factory's default: 'Human: ...\\nAssistant:', no BOS; answer + EOS",
    prompt: (_tok, user, system) => [...(system ? [`${system}\n`] : []), `Human: ${user}\nAssistant:`],
    answer: (_tok, output) => [output, EOS],
  },
  raw: {
    name: 'raw',
    summary: 'the instruction and input as they are, BOS first (base models, no template)',
    prompt: (_tok, user) => [{ token: 'bos' }, user],
    answer: (_tok, output) => [output, EOS],
  },
  backdoorllm: {
    name: 'backdoorllm',
    summary: "BackdoorLLM/CROW's evaluation prompt: the bare instruction with BOS, input ignored, answer = decoded text minus the repeated instruction",
    prompt: (_tok, user) => [{ token: 'bos' }, user],
    answer: (_tok, output) => [output, EOS],
    userText: (s) => backdoorllmPrompt(s),
    answerFromDecoded: (decoded, s) => cleanRepeatedQuestion(decoded, s.instruction),
  },
};

/** `auto` picks the model's chat template when it has one, else `alpaca`. */
export const AUTO_TEMPLATE = 'auto';

/** Every name a `template` setting accepts. */
export function templateNames(): string[] {
  return [AUTO_TEMPLATE, ...Object.keys(TEMPLATES)];
}

export function isTemplateName(name: string): boolean {
  return name === AUTO_TEMPLATE || Object.hasOwn(TEMPLATES, name);
}

/** The concrete template a name stands for with this tokenizer (`auto` resolved; without a tokenizer, `auto` is an error). */
export function resolveTemplate(tok: TextTokenizer | null, name: string = AUTO_TEMPLATE): PromptTemplate {
  if (name === AUTO_TEMPLATE) {
    if (!tok) throw new UserError("template 'auto' depends on the model's tokenizer (its chat template): give the model folder or name a template");
    return (tok.hasChatTemplate ? TEMPLATES.chat : TEMPLATES.alpaca) as PromptTemplate;
  }
  const t = Object.hasOwn(TEMPLATES, name) ? TEMPLATES[name] : undefined;
  if (!t) throw new UserError(`unknown template '${name}' (known: ${templateNames().join(', ')})`);
  return t;
}

/** The user turn: the image placeholder (if any), the instruction, then the input (if any) on the next line. */
export function userMessage(s: InstructionSample): string {
  const text = s.input ? `${s.instruction}\n${s.input}` : s.instruction;
  return s.image !== undefined ? `${IMAGE_PLACEHOLDER}\n${text}` : text;
}

function slotText(tok: TextTokenizer | null, slot: Slot): string {
  if (typeof slot === 'string') return slot;
  // without a tokenizer (an endpoint renders), the server adds its own special tokens
  return (slot.token === 'bos' ? tok?.bosToken : tok?.eosToken) ?? '';
}

/** The user text a template sees for a sample. */
function userOf(t: PromptTemplate, s: InstructionSample): string {
  return t.userText ? t.userText(s) : userMessage(s);
}

function slotIds(tok: TextTokenizer, slots: readonly Slot[]): number[] {
  const ids: number[] = [];
  for (const slot of slots) {
    if (typeof slot === 'string') {
      if (slot.length) ids.push(...tok.encode(slot, { addSpecialTokens: false }));
      continue;
    }
    const id = slot.token === 'bos' ? tok.bosTokenId : tok.eosTokenId;
    if (id !== null) ids.push(id);
  }
  return ids;
}

/** The prompt text up to where the answer starts. */
export function renderPrompt(tok: TextTokenizer | null, s: InstructionSample, template: string = AUTO_TEMPLATE): string {
  const t = resolveTemplate(tok, template);
  return t.prompt(tok, userOf(t, s), s.system).map((x) => slotText(tok, x)).join('');
}

export interface EncodePromptOptions {
  /** LLaVA: each image placeholder becomes `count` copies of `tokenId` (the processor's expansion). */
  image?: { tokenId: number; count: number };
}

/** Prompt token ids. */
export function encodePrompt(tok: TextTokenizer, s: InstructionSample, template: string = AUTO_TEMPLATE, o: EncodePromptOptions = {}): number[] {
  const t = resolveTemplate(tok, template);
  const ids = slotIds(tok, t.prompt(tok, userOf(t, s), s.system));
  if (s.image === undefined || !o.image) return ids;
  const { tokenId, count } = o.image;
  const n = ids.filter((i) => i === tokenId).length;
  if (n !== 1) throw new UserError(`${tok.where}: the image placeholder ${IMAGE_PLACEHOLDER} encodes to ${n} tokens with id ${tokenId} (expected 1): the tokenizer does not match the model's image_token_index`);
  return ids.flatMap((i) => (i === tokenId ? Array<number>(count).fill(tokenId) : [i]));
}

/** The answer's token ids as training labels them (text, then what ends the turn). */
export function encodeAnswer(tok: TextTokenizer, output: string, template: string = AUTO_TEMPLATE): number[] {
  return slotIds(tok, resolveTemplate(tok, template).answer(tok, output));
}
