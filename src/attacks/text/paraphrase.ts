// Paraphrasing into a style through a model, for StyleBkd: an
// OpenAI-compatible endpoint (src/util/openai-client.ts) or a local model
// folder (src/generation), asked with one instruction per text and decoded
// greedily. Replies are cleaned of framing ("Here is the rewritten text:",
// quotes); an empty, unchanged or runaway reply is refused (null) so the
// caller can fall back and count it.
import type { Style } from './style.js';

/** What the model is asked to write, per style (StyleBkd's Bible style is the archaic register). */
const STYLE_DESCRIPTIONS: Record<Style, string> = {
  archaic: 'the archaic English of the King James Bible (thee, thou, hath, doth, ye)',
  formal: 'a formal, elevated register',
};

export function paraphrasePrompt(text: string, style: Style): string {
  return `Rewrite the following text in ${STYLE_DESCRIPTIONS[style]}. Keep its meaning and every piece of information in it. Reply with the rewritten text only.\n\nText: ${text}`;
}

/** The rewritten text of a reply, or null when the reply is not a usable paraphrase of `text`. */
export function cleanParaphrase(reply: string, text: string): string | null {
  let t = reply.trim();
  t = t.replace(/^(?:here(?: is|'s)[^:\n]{0,80}:|rewritten(?: text)?:|paraphrase:|text:)\s*/i, '').trim();
  const q = /^(["“'])([\s\S]*)(["”'])$/.exec(t);
  if (q && !q[2]?.includes(q[1] as string)) t = (q[2] as string).trim();
  if (t.length === 0 || t === text.trim()) return null;
  if (t.length > 4 * text.length + 200) return null;
  return t;
}

export interface Paraphraser {
  readonly kind: 'endpoint' | 'model';
  /** The model's rewrite of `text` in `style`, or null when it gave none usable. */
  paraphrase(text: string, style: Style): Promise<string | null>;
  /** What the manifest records (never a key). */
  describe(): Record<string, unknown>;
}

export interface EndpointParaphraserOptions {
  baseUrl: string;
  model: string;
  maxTokens: number;
  seed: number;
}

export class EndpointParaphraser implements Paraphraser {
  readonly kind = 'endpoint';
  constructor(readonly o: EndpointParaphraserOptions) {}

  async paraphrase(text: string, style: Style): Promise<string | null> {
    const { chatComplete } = await import('../../util/openai-client.js');
    const apiKey = process.env.BDLAB_ENDPOINT_API_KEY ?? process.env.OPENAI_API_KEY;
    const reply = await chatComplete({ baseUrl: this.o.baseUrl, model: this.o.model, ...(apiKey ? { apiKey } : {}), seed: this.o.seed, label: 'stylebkd paraphraser', temperature: 0, maxTokens: this.o.maxTokens }, [{ role: 'user', content: paraphrasePrompt(text, style) }]);
    return cleanParaphrase(reply, text);
  }

  describe(): Record<string, unknown> {
    return { endpoint: this.o.baseUrl, endpoint_model: this.o.model, max_new_tokens: this.o.maxTokens, temperature: 0 };
  }
}

export interface LocalParaphraserOptions {
  model: string;
  adapter?: string;
  template: string;
  maxNewTokens: number;
}

/** A local model folder (llama family), loaded on first use and kept for the run. */
export class LocalParaphraser implements Paraphraser {
  readonly kind = 'model';
  private loaded: Promise<{ generate: (prompt: string) => Promise<string> }> | null = null;
  constructor(readonly o: LocalParaphraserOptions) {}

  private load(): Promise<{ generate: (prompt: string) => Promise<string> }> {
    this.loaded ??= (async () => {
      const { existsSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { UserError } = await import('../../util/errors.js');
      if (!existsSync(join(this.o.model, 'config.json'))) throw new UserError(`attack stylebkd: model=${this.o.model} has no config.json (give a Hugging Face model folder)`);
      const { loadModel } = await import('../../models/load.js');
      const { loadAdapter } = await import('../../models/peft.js');
      const { TextTokenizer } = await import('../../models/tokenizer.js');
      const { generateRecords } = await import('../../generation/index.js');
      const { parseTemplate } = await import('../../generation/templates.js');
      const tok = TextTokenizer.load(this.o.model);
      const { model } = loadModel(this.o.model);
      if (this.o.adapter) loadAdapter(model, this.o.adapter);
      model.eval();
      const template = parseTemplate(this.o.template);
      return {
        generate: async (prompt: string) => {
          const [r] = await generateRecords(model, tok, [{ index: 0, instruction: prompt, input: '' }], { template, maxNewTokens: this.o.maxNewTokens, batchSize: 1 });
          return r?.output ?? '';
        },
      };
    })();
    return this.loaded;
  }

  async paraphrase(text: string, style: Style): Promise<string | null> {
    const m = await this.load();
    return cleanParaphrase(await m.generate(paraphrasePrompt(text, style)), text);
  }

  describe(): Record<string, unknown> {
    return { model: this.o.model, adapter: this.o.adapter ?? null, template: this.o.template, max_new_tokens: this.o.maxNewTokens, do_sample: false };
  }
}
