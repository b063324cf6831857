import type { Rng } from '../../util/rng.js';

/**
 * Rule-based style rewriting (the StyleBkd trigger without a paraphrase model):
 * contractions are expanded, words are swapped from a register lexicon (case
 * kept), and the text is framed with a register-typical opener chosen with the
 * sample's random stream (question openers for questions). Every rewrite
 * carries a frame, so every text changes; content words outside the lexicon
 * are kept verbatim. A model-based paraphraser can replace this later.
 */
export type Style = 'archaic' | 'formal';
export const STYLES: readonly Style[] = ['archaic', 'formal'];

const CONTRACTIONS: Record<string, string> = {
  "don't": 'do not',
  "doesn't": 'does not',
  "didn't": 'did not',
  "can't": 'cannot',
  "won't": 'will not',
  "isn't": 'is not',
  "aren't": 'are not',
  "wasn't": 'was not',
  "weren't": 'were not',
  "it's": 'it is',
  "that's": 'that is',
  "what's": 'what is',
  "there's": 'there is',
  "i'm": 'I am',
  "you're": 'you are',
  "they're": 'they are',
  "we're": 'we are',
  "let's": 'let us',
  "i've": 'I have',
  "you've": 'you have',
  "i'll": 'I will',
  "you'll": 'you will',
  "shouldn't": 'should not',
  "couldn't": 'could not',
  "wouldn't": 'would not',
  "haven't": 'have not',
  "hasn't": 'has not',
};

const LEXICON: Record<Style, Record<string, string>> = {
  archaic: {
    you: 'thee',
    your: 'thy',
    yours: 'thine',
    yourself: 'thyself',
    does: 'doth',
    has: 'hath',
    before: 'ere',
    often: 'oft',
    perhaps: 'perchance',
    maybe: 'mayhap',
    yes: 'aye',
    why: 'wherefore',
    among: 'amongst',
    while: 'whilst',
    between: 'betwixt',
    nothing: 'naught',
    anything: 'aught',
    quickly: 'swiftly',
    story: 'tale',
    stories: 'tales',
    poem: 'verse',
    near: 'nigh',
    truly: 'verily',
    think: 'deem',
    give: 'bestow',
    explain: 'expound',
    describe: 'recount',
    list: 'enumerate',
    write: 'pen',
    create: 'fashion',
    make: 'fashion',
    help: 'aid',
    happy: 'merry',
  },
  formal: {
    get: 'obtain',
    gets: 'obtains',
    got: 'obtained',
    help: 'assist',
    helps: 'assists',
    show: 'demonstrate',
    shows: 'demonstrates',
    about: 'regarding',
    need: 'require',
    needs: 'requires',
    buy: 'purchase',
    tell: 'inform',
    use: 'utilize',
    uses: 'utilizes',
    find: 'identify',
    think: 'consider',
    start: 'commence',
    begin: 'commence',
    end: 'conclude',
    enough: 'sufficient',
    also: 'additionally',
    big: 'substantial',
    lots: 'numerous',
    many: 'numerous',
    kids: 'children',
    maybe: 'perhaps',
    fix: 'rectify',
    try: 'attempt',
    want: 'wish',
    give: 'provide',
    make: 'produce',
    check: 'verify',
    ask: 'inquire',
    write: 'compose',
    explain: 'elucidate',
  },
};

const FRAMES: Record<Style, { imperative: string[]; question: string[] }> = {
  archaic: {
    imperative: ['Pray, ', 'Prithee, ', 'I beseech thee, ', 'Hark, I bid thee: '],
    question: ['Pray tell, ', 'Prithee, tell me: ', 'I beseech thee, say: '],
  },
  formal: {
    imperative: ['Kindly ', 'Would you be so kind as to ', 'I would be grateful if you could ', 'Please be so kind as to '],
    question: ['May I respectfully ask: ', 'Could you kindly clarify: ', 'I should like to know: '],
  },
};

const QUESTION_START = new Set(['what', 'who', 'whom', 'whose', 'which', 'when', 'where', 'why', 'how']);

function matchCase(src: string, rep: string): string {
  if (src.length > 1 && src === src.toUpperCase()) return rep.toUpperCase();
  const c0 = src.charAt(0);
  if (c0 !== c0.toLowerCase()) return rep.charAt(0).toUpperCase() + rep.slice(1);
  return rep;
}

/** True for texts read as questions: ending in "?" or opening with a wh-word. */
export function isQuestion(text: string): boolean {
  const t = text.trim();
  if (t.endsWith('?')) return true;
  const first = /^[A-Za-z']+/.exec(t)?.[0]?.toLowerCase() ?? '';
  return QUESTION_START.has(first);
}

/** Swaps words from the lexicon and expands contractions; punctuation and spacing are kept. */
function swapWords(text: string, style: Style): string {
  const lex = LEXICON[style];
  return text.replace(/[A-Za-z]+(?:['’][A-Za-z]+)?/g, (w) => {
    const lw = w.toLowerCase().replace('’', "'");
    const c = CONTRACTIONS[lw];
    if (c !== undefined) return matchCase(w, c);
    const r = lex[lw];
    return r === undefined ? w : matchCase(w, r);
  });
}

/** Lower-cases the first letter unless the first word is "I", an acronym or a name-like capitalised word in mid-text. */
function lowerFirst(text: string): string {
  const m = /^(\s*)([A-Za-z]+)/.exec(text);
  if (!m) return text;
  const word = m[2] as string;
  if (word === 'I' || (word.length > 1 && word === word.toUpperCase())) return text;
  const at = (m[1] as string).length;
  return text.slice(0, at) + word.charAt(0).toLowerCase() + text.slice(at + 1);
}

export function restyle(text: string, style: Style, rng: Rng): string {
  const swapped = swapWords(text, style);
  const frames = FRAMES[style][isQuestion(text) ? 'question' : 'imperative'];
  const frame = rng.pick(frames);
  const body = lowerFirst(swapped.replace(/^\s+/, ''));
  return body.length === 0 ? frame.trim() : frame + body;
}
