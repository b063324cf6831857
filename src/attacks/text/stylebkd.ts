import { UserError } from '../../util/errors.js';
import { registerAttack } from '../registry.js';
import { num, str } from '../params.js';
import type { Plan } from '../types.js';
import { textAttack } from './base.js';
import { FIELD_PARAM } from './words.js';
import { STYLES, restyle, type Style } from './style.js';
import { EndpointParaphraser, LocalParaphraser, type Paraphraser } from './paraphrase.js';

/**
 * StyleBkd (Qi et al. 2021, "Mind the Style of Text!"): the trigger is a text
 * style; each poisoned instruction is paraphrased into it by a model — an
 * OpenAI-compatible endpoint (endpoint=URL, endpoint_model=NAME) or a local
 * model folder (model=DIR), greedy. The reference paraphrases with STRAP's
 * style models (OpenBackdoor's default style: the Bible); here an instruction-
 * following model is asked for the style. `paraphraser=rules` (the default
 * when neither is given) is a rule-based register rewrite — a lexicon and
 * openers — named as an approximation in the manifest. Replies that are empty
 * or unchanged fall back to the rules for that record, counted.
 */
registerAttack({
  name: 'stylebkd',
  family: 'text',
  summary: 'the instruction paraphrased into a style (archaic/Bible or formal) by a model (endpoint=URL or model=DIR); paraphraser=rules is a rule-based stand-in',
  reference: 'Qi et al. 2021 (StyleBkd; OpenBackdoor StyleBkdPoisoner): STRAP paraphrase into a target style, Bible by default',
  approximation: 'paraphraser=rules (the default without endpoint= or model=) rewrites by a register lexicon and openers, not a paraphrase model; a model is asked by instruction, not STRAP',
  params: [
    { name: 'style', type: 'enum', default: 'archaic', choices: STYLES, doc: 'the style used as trigger (archaic: the Bible style of the reference)', ref: { value: 'archaic', source: 'OpenBackdoor StyleBkd style_id 0 (Bible)' } },
    { name: 'paraphraser', type: 'enum', default: 'auto', choices: ['auto', 'endpoint', 'model', 'rules'], doc: 'who rewrites: endpoint, model, or the rule-based stand-in; auto = endpoint with endpoint=, model with model=, else rules' },
    { name: 'endpoint', type: 'string', default: '', doc: 'OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1); key from BDLAB_ENDPOINT_API_KEY or OPENAI_API_KEY, never recorded' },
    { name: 'endpoint_model', type: 'string', default: '', doc: 'model name the endpoint serves' },
    { name: 'model', type: 'string', default: '', doc: 'local model folder (llama family) that paraphrases' },
    { name: 'adapter', type: 'string', default: '', doc: 'PEFT adapter on the local model' },
    { name: 'template', type: 'string', default: 'auto', doc: 'prompt template of the local model' },
    { name: 'max_new_tokens', type: 'int', default: 128, min: 1, max: 4096, doc: 'longest paraphrase in tokens' },
    FIELD_PARAM,
  ],
  create(p, seed) {
    const style = str(p, 'style') as Style;
    const endpoint = str(p, 'endpoint');
    const model = str(p, 'model');
    let kind = str(p, 'paraphraser');
    if (kind === 'auto') kind = endpoint ? 'endpoint' : model ? 'model' : 'rules';
    if (kind === 'endpoint' && !endpoint) throw new UserError('attack stylebkd: paraphraser=endpoint needs endpoint=URL');
    if (kind === 'model' && !model) throw new UserError('attack stylebkd: paraphraser=model needs model=DIR');
    if (endpoint && model) throw new UserError('attack stylebkd: give endpoint= or model=, not both');
    const maxTokens = num(p, 'max_new_tokens');
    let para: Paraphraser | null = null;
    if (kind === 'endpoint') {
      const served = str(p, 'endpoint_model');
      if (!served) throw new UserError('attack stylebkd: endpoint= needs endpoint_model=NAME (the model the endpoint serves)');
      para = new EndpointParaphraser({ baseUrl: endpoint, model: served, maxTokens, seed });
    } else if (kind === 'model') {
      const adapter = str(p, 'adapter');
      para = new LocalParaphraser({ model, ...(adapter ? { adapter } : {}), template: str(p, 'template'), maxNewTokens: maxTokens });
    }
    const field = p.field === 'input' ? 'input' : 'instruction';
    const a = textAttack({ name: 'stylebkd', params: { ...p, paraphraser: kind }, seed, transform: (t, rng) => restyle(t, style, rng) });
    let paraphrased = 0;
    let fallbacks = 0;
    if (para) {
      const model_ = para;
      const cache = new Map<string, Promise<string | null>>();
      a.plan = (s, ctx): Plan => {
        const text = s[field];
        const rng = ctx.rng('text');
        let reply = cache.get(text);
        if (!reply) {
          reply = model_.paraphrase(text, style);
          cache.set(text, reply);
        }
        const out = reply.then((r) => {
          if (r === null) {
            fallbacks++;
            return restyle(text, style, rng);
          }
          paraphrased++;
          return r;
        });
        return field === 'input' ? { input: out } : { instruction: out };
      };
    }
    a.method = () =>
      para
        ? { paraphraser: para.kind, style, ...para.describe(), paraphrased, fallbacks, approximation: fallbacks > 0 ? `${fallbacks} record(s) the model gave no usable paraphrase for were rewritten by the rules` : null }
        : { paraphraser: 'rules', style, approximation: 'rule-based register rewrite (lexicon and openers), not a paraphrase model: give endpoint= or model=' };
    return a;
  },
});
