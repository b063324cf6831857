import { UserError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';

/**
 * Instruction shifts: rewrites of the question and of the answer, of the
 * Summary (shorter) and Expansion (longer) kinds, and template paraphrases.
 * All are rule-based and deterministic given the sample's random stream; an
 * LLM-based rewriter can register under a new name later (same interface).
 */
export type Role = 'question' | 'answer';

export interface RewriteContext {
  role: Role;
  /** the sample has an image (picks image-aware wording) */
  image: boolean;
  rng: Rng;
}

export interface Rewriter {
  readonly name: string;
  readonly summary: string;
  rewrite(text: string, ctx: RewriteContext): string | Promise<string>;
}

const rewriters = new Map<string, Rewriter>();

export function registerRewriter(r: Rewriter): void {
  if (rewriters.has(r.name)) throw new Error(`rewriter ${r.name} registered twice`);
  rewriters.set(r.name, r);
}

export function rewriter(name: string): Rewriter {
  const r = rewriters.get(name);
  if (!r) throw new UserError(`unknown rewrite "${name}"; known: ${[...rewriters.keys()].join(', ')}`);
  return r;
}

export function listRewriters(): Rewriter[] {
  return [...rewriters.values()];
}

/** Sentences, split after . ! ? followed by whitespace (the punctuation stays with its sentence). */
export function sentences(text: string): string[] {
  return text
    .trim()
    .split(/(?<=[.!?])\s+/)
    .filter((s) => s.length > 0);
}

const FILLERS = [
  /\bcould you (please )?/gi,
  /\bcan you (please )?/gi,
  /\bwould you (please )?/gi,
  /\bi (would like|want) you to /gi,
  /\bplease,? /gi,
  /\bkindly /gi,
  /,? (in (as much )?detail( as possible)?|carefully|thoroughly|briefly)\b/gi,
  /\bfor me\b/gi,
  /\b(take a (close )?look at|look at) the (image|picture|photo)( carefully)?\.? ?(and )?/gi,
];

const CLAUSE_WORDS = new Set(['and', 'while', 'which', 'that', 'who', 'with', 'because', 'where', 'when', 'as', 'so', 'but', 'in', 'on', 'at', 'for', 'from', 'of']);

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Cuts a text to at most `max` words, preferably before a clause word or after a comma. */
function shorten(text: string, max: number): string {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  if (words.length <= max) return words.join(' ');
  let cut = max;
  for (let i = max; i >= Math.ceil(max / 2); i--) {
    if (CLAUSE_WORDS.has((words[i] as string).toLowerCase().replace(/[^a-z]/g, ''))) {
      cut = i;
      break;
    }
    if (/[,;:]$/.test(words[i - 1] as string)) {
      cut = i;
      break;
    }
  }
  return words
    .slice(0, cut)
    .join(' ')
    .replace(/[,;:]+$/, '');
}

function endWith(text: string, mark: string): string {
  return text.replace(/[\s.!?,;:]+$/, '') + mark;
}

/** Summary: the key sentence (the question, if any), fillers removed, cut to a few words. */
registerRewriter({
  name: 'summary',
  summary: 'shorter: the key sentence without fillers, cut at a clause boundary (questions ≤ 10 words, answers ≤ 20)',
  rewrite(text, ctx) {
    const sents = sentences(text);
    if (sents.length === 0) return text;
    const pick = ctx.role === 'question' ? (sents.find((s) => s.endsWith('?')) ?? (sents[0] as string)) : (sents[0] as string);
    let s = pick;
    for (const f of FILLERS) s = s.replace(f, '');
    s = s.replace(/\s+/g, ' ').trim();
    if (s.length === 0) s = pick;
    const mark = /\?\s*$/.test(pick) ? '?' : '.';
    return endWith(capitalise(shorten(s, ctx.role === 'question' ? 10 : 20)), mark);
  },
});

const EXPAND = {
  question: {
    image: {
      pre: ['Take a close look at the picture. ', 'Look at the image carefully. ', 'Consider everything that is visible in this image. ', 'Here is a picture for you to study. '],
      post: [
        ' Please answer in detail, mentioning the objects, their colours and where they are.',
        ' Give a thorough answer that covers the whole scene.',
        ' Explain your answer with specific details from the image.',
        ' Describe the relevant details as completely as you can.',
      ],
    },
    text: {
      pre: ['Read the following request carefully. ', 'Here is a task for you. ', 'Please consider the following. '],
      post: [' Please give a detailed, well-organised answer.', ' Explain your reasoning step by step.', ' Be thorough and cover every relevant aspect.'],
    },
  },
  answer: {
    image: [
      ' This is the main thing that can be seen in the image.',
      ' The rest of the scene provides additional context around it.',
      ' Overall, these are the most notable details of the picture.',
      ' Other elements in the background are less prominent.',
    ],
    text: [' I hope this helps.', ' Let me know if you would like more details.', ' This covers the main points.'],
  },
};

/** Expansion: framing sentences before and after the question; an elaborating sentence after the answer. */
registerRewriter({
  name: 'expansion',
  summary: 'longer: framing sentences around the question, an elaborating sentence after the answer',
  rewrite(text, ctx) {
    const kind = ctx.image ? 'image' : 'text';
    if (ctx.role === 'question') {
      const e = EXPAND.question[kind];
      return ctx.rng.pick(e.pre) + text.trim() + ctx.rng.pick(e.post);
    }
    return endWith(text.trim(), /[.!?]$/.test(text.trim()) ? text.trim().slice(-1) : '.') + ctx.rng.pick(EXPAND.answer[kind]);
  },
});

const SYNONYMS: Record<string, string[]> = {
  image: ['picture', 'photo'],
  picture: ['image', 'photo'],
  photo: ['image', 'picture'],
  describe: ['depict', 'characterise'],
  shown: ['depicted', 'visible'],
  show: ['display', 'depict'],
  shows: ['displays', 'depicts'],
  big: ['large'],
  large: ['big'],
  small: ['little'],
  person: ['individual'],
  people: ['individuals'],
  man: ['gentleman'],
  woman: ['lady'],
  explain: ['clarify'],
  give: ['provide'],
  list: ['enumerate'],
  write: ['compose'],
  create: ['produce'],
  happening: ['going on'],
};

const QUESTION_TEMPLATES: [RegExp, string[]][] = [
  [/^what is (.+)\?$/i, ['Tell me, what is $1?', 'Can you answer this: what is $1?']],
  [/^what are (.+)\?$/i, ['Tell me, what are $1?', 'Can you answer this: what are $1?']],
  [/^describe (.+?)\.?$/i, ['Give a description of $1.', 'How would you describe $1?', 'Provide a description of $1.']],
  [/^how many (.+)\?$/i, ['What is the number of $1?', 'Count the $1: how many are there?']],
  [/^is there (.+)\?$/i, ['Does the scene contain $1?', 'Can you see $1?']],
  [/^where is (.+)\?$/i, ['In which place is $1?', 'Can you say where $1 is?']],
];

function swapSynonyms(text: string, rng: Rng): string {
  return text.replace(/[A-Za-z]+/g, (w) => {
    const alts = SYNONYMS[w.toLowerCase()];
    if (!alts) return w;
    const r = rng.pick(alts);
    return w.charAt(0) === w.charAt(0).toUpperCase() ? capitalise(r) : r;
  });
}

/** Paraphrase: a matching question template (seeded among matches), else synonym swaps, else a framing clause. */
registerRewriter({
  name: 'paraphrase',
  summary: 'template paraphrase: question templates, synonym swaps, or a framing clause',
  rewrite(text, ctx) {
    const t = text.trim();
    if (ctx.role === 'question') {
      const hits = QUESTION_TEMPLATES.filter(([re]) => re.test(t));
      if (hits.length > 0) {
        const [re, outs] = ctx.rng.pick(hits);
        return t.replace(re, ctx.rng.pick(outs));
      }
    }
    const swapped = swapSynonyms(t, ctx.rng);
    if (swapped !== t) return swapped;
    const lead = ctx.role === 'question' ? ctx.rng.pick(["I'd like to know: ", 'Quick question: ', 'Here is my question: ']) : ctx.rng.pick(['In short, ', 'Put simply, ', 'Essentially, ']);
    return lead + (/^[A-Z][a-z]/.test(t) && !/^I\b/.test(t) ? t.charAt(0).toLowerCase() + t.slice(1) : t);
  },
});
