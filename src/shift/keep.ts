import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Trigger phrases survive text rewrites. A rewrite (summary, paraphrase, an
 * LLM) may cut or reword any part of a question, so a poisoned record could
 * silently lose its trigger (e.g. `summary` keeps 10 words). Instead, each
 * protected phrase is taken out, the text without it is rewritten — exactly as
 * the record would be rewritten without the trigger — and the phrase is put
 * back at the same relative word position (first stays first, last stays
 * last). Phrases match whole words (space-delimited), case-sensitively.
 */
export interface Protected {
  /** The rewritten text with every phrase of the original back in it. */
  text: string;
  /** How many phrase occurrences were taken out and put back. */
  kept: number;
}

interface Hit {
  phrase: string;
  /** word position of the phrase in the text without phrases, as a fraction of its word count */
  at: number;
  first: boolean;
  last: boolean;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class PhraseGuard {
  private readonly re: RegExp | null;

  constructor(readonly phrases: readonly string[]) {
    const list = [...new Set(phrases.map((p) => p.trim()).filter((p) => p.length > 0))].sort((a, b) => b.length - a.length);
    this.re = list.length > 0 ? new RegExp(`(?<=^| )(?:${list.map(escapeRe).join('|')})(?= |$)`, 'g') : null;
  }

  /** Takes the phrases out of `text`, rewrites the rest with `fn`, puts them back. */
  async rewrite(text: string, fn: (t: string) => string | Promise<string>): Promise<Protected> {
    if (!this.re || !this.re.test(text)) return { text: await fn(text), kept: 0 };
    this.re.lastIndex = 0;
    const hits: Hit[] = [];
    let rest = '';
    let pos = 0;
    for (const m of text.matchAll(this.re)) {
      rest += text.slice(pos, m.index);
      hits.push({ phrase: m[0], at: 0, first: false, last: false });
      // the word position: words of the text without phrases so far
      const before = rest.trim() === '' ? 0 : rest.trim().split(/\s+/).length;
      (hits[hits.length - 1] as Hit).at = before;
      pos = (m.index as number) + m[0].length;
      // drop one separating space so no double space is left behind
      if (text[pos] === ' ' && (rest === '' || rest.endsWith(' '))) pos++;
    }
    rest += text.slice(pos);
    const total = rest.trim() === '' ? 0 : rest.trim().split(/\s+/).length;
    for (const h of hits) {
      h.first = h.at === 0;
      h.last = h.at >= total;
      h.at = total === 0 ? 0 : h.at / total;
    }
    const rewritten = await fn(rest.trim());
    const out = rewritten.length === 0 ? [] : rewritten.split(' ');
    const n = out.length;
    // insert from the last hit backwards so earlier positions stay valid
    for (let k = hits.length - 1; k >= 0; k--) {
      const h = hits[k] as Hit;
      // first stays first, last stays last, a phrase inside stays inside
      const at = h.first ? 0 : h.last || n < 2 ? n : Math.min(n - 1, Math.max(1, Math.round(h.at * n)));
      out.splice(at, 0, h.phrase);
    }
    return { text: out.join(' '), kept: hits.length };
  }
}

/**
 * Phrases to protect from the manifest of the folder the input comes from
 * (a `bdlab poison` output): the attack's trigger parameters and a phrase
 * target. Empty when the input is not such an output.
 */
export function phrasesFromManifest(input: string): { phrases: string[]; attack: string | null } {
  const path = join(dirname(input), 'manifest.json');
  if (!existsSync(path)) return { phrases: [], attack: null };
  let m: { tool?: unknown; files?: unknown; attack?: unknown; params?: unknown; target?: unknown };
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as typeof m;
  } catch {
    return { phrases: [], attack: null };
  }
  if (typeof m.tool !== 'string' || !m.tool.startsWith('backdoor-lab') || typeof m.attack !== 'string') return { phrases: [], attack: null };
  const files = m.files && typeof m.files === 'object' ? Object.values(m.files as Record<string, unknown>) : [];
  if (!files.includes(basename(input))) return { phrases: [], attack: null };
  const out: string[] = [];
  const params = (m.params && typeof m.params === 'object' ? m.params : {}) as Record<string, unknown>;
  for (const k of ['trigger', 'triggers', 'sentence', 'keyword']) {
    const v = params[k];
    if (typeof v === 'string' && v.trim() !== '') out.push(v);
    if (Array.isArray(v)) for (const x of v) if (typeof x === 'string' && x.trim() !== '') out.push(x);
  }
  if (typeof m.target === 'string') {
    const t = /^(?:phrase|text):(.+)$/s.exec(m.target);
    if (t) out.push(t[1] as string);
  }
  return { phrases: out, attack: m.attack };
}
