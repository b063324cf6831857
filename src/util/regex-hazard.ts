/**
 * A static check for regular expressions that a backtracking engine (V8's,
 * like Oniguruma behind Hugging Face's tokenizers) can take exponential or
 * high-polynomial time on: the classic shapes of catastrophic backtracking.
 *
 * A pattern is hazardous when it has
 * - a backreference;
 * - a repetition (max > 1) of a part that itself repeats without bound, or of
 *   an alternation whose branches can start with the same character, or of a
 *   part that can match the empty string — `(a+)+`, `(a|a)*`, `(a?)*`;
 * - three or more adjacent unbounded repetitions that can match the same
 *   characters (`\s*\s*\s*x`), or two that are followed by more pattern
 *   (`\s*\s+x`): two at the very end of a top-level branch cost one pass per
 *   start (Llama 3's `\s*[\r\n]+`) and are allowed.
 *
 * Characters are compared by coarse classes (letters, numbers, line breaks,
 * other spaces, everything else) unless both sides are explicit small sets,
 * so the check errs towards "hazardous". It is a filter, not a proof: callers
 * run every hazardous pattern under a time limit, and everything else
 * directly.
 */

const L = 1; // letters
const N = 2; // numbers
const NL = 4; // \n and \r
const SP = 8; // other white space
const P = 16; // everything else
const ALL = L | N | NL | SP | P;

interface CharSet {
  cats: number;
  /** The exact characters when known and few, else null (cats only). */
  chars: Set<string> | null;
}

type Node =
  | { t: 'atom'; set: CharSet }
  | { t: 'empty' }
  | { t: 'backref' }
  | { t: 'group'; alt: Node[][]; look: boolean }
  | { t: 'quant'; node: Node; min: number; max: number };

function catOf(ch: string): number {
  if (ch === '\n' || ch === '\r') return NL;
  if (/\s/u.test(ch)) return SP;
  if (/\p{L}/u.test(ch)) return L;
  if (/\p{N}/u.test(ch)) return N;
  return P;
}

const chars = (list: string[]): CharSet => ({ cats: list.reduce((a, c) => a | catOf(c), 0), chars: new Set(list) });
const cats = (c: number): CharSet => ({ cats: c, chars: null });

function overlap(a: CharSet, b: CharSet): boolean {
  if (a.chars && b.chars) {
    for (const c of a.chars) if (b.chars.has(c)) return true;
    return false;
  }
  return (a.cats & b.cats) !== 0;
}

function union(a: CharSet, b: CharSet): CharSet {
  if (a.chars && b.chars && a.chars.size + b.chars.size <= 512) return { cats: a.cats | b.cats, chars: new Set([...a.chars, ...b.chars]) };
  return cats(a.cats | b.cats);
}

/** \p{...} property sets by their general category letter. */
function propertyCats(name: string): number {
  const n = name.replace(/^(General_Category|gc)=/, '');
  if (/^(L|Letter|Lu|Ll|Lt|Lm|Lo|Alphabetic|Alpha)/.test(n)) return L;
  if (/^(N|Number|Nd|Nl|No|Decimal_Number|Digit)/.test(n)) return N;
  if (/^(Z|Separator|Zs|Zl|Zp|White_Space)/.test(n)) return SP | NL;
  if (/^(P|S|M|Punctuation|Symbol|Mark)/.test(n)) return P;
  return ALL;
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  peek(): string | undefined {
    return this.s[this.i];
  }

  parseAlt(): Node[][] {
    const alt: Node[][] = [this.parseSeq()];
    while (this.peek() === '|') {
      this.i++;
      alt.push(this.parseSeq());
    }
    return alt;
  }

  parseSeq(): Node[] {
    const seq: Node[] = [];
    while (this.i < this.s.length && this.peek() !== '|' && this.peek() !== ')') {
      let node = this.parseAtom();
      for (;;) {
        const q = this.parseQuantifier();
        if (!q) break;
        node = { t: 'quant', node, min: q[0], max: q[1] };
      }
      seq.push(node);
    }
    return seq;
  }

  parseQuantifier(): [number, number] | null {
    const c = this.peek();
    let q: [number, number] | null = null;
    if (c === '*') q = [0, Infinity];
    else if (c === '+') q = [1, Infinity];
    else if (c === '?') q = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i));
      if (!m) return null;
      this.i += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (this.peek() === '?') this.i++;
      return [min, max];
    }
    if (!q) return null;
    this.i++;
    if (this.peek() === '?' || this.peek() === '+') this.i++; // lazy (or possessive, in Oniguruma's spelling)
    return q;
  }

  parseAtom(): Node {
    const c = this.s[this.i++] as string;
    if (c === '(') {
      let look = false;
      const rest = this.s.slice(this.i);
      const m = /^\?(?:[:=!>]|<[=!]|<[^>]*>|[a-zA-Z-]*:)/.exec(rest);
      if (m) {
        look = /^\?(?:[=!]|<[=!])/.test(m[0]);
        this.i += m[0].length;
      }
      const alt = this.parseAlt();
      if (this.peek() === ')') this.i++;
      return look ? { t: 'group', alt, look: true } : { t: 'group', alt, look: false };
    }
    if (c === '[') return { t: 'atom', set: this.parseClass() };
    if (c === '.') return { t: 'atom', set: cats(ALL & ~NL) };
    if (c === '^' || c === '$') return { t: 'empty' };
    if (c === '\\') return this.parseEscape(false) as Node;
    const cp = this.s.codePointAt(this.i - 1) as number;
    const ch = String.fromCodePoint(cp);
    this.i += ch.length - 1;
    return { t: 'atom', set: chars([ch]) };
  }

  /** An escape after the backslash: an atom, an assertion, a backreference, or (in a class) a set. */
  parseEscape(inClass: boolean): Node | CharSet {
    const c = this.s[this.i++] ?? '\\';
    const set = (x: CharSet): Node | CharSet => (inClass ? x : { t: 'atom', set: x });
    switch (c) {
      case 'd':
        return set(chars('0123456789'.split('')));
      case 'D':
      case 'W':
        return set(cats(ALL));
      case 'w':
        return set(cats(L | N | P));
      case 's':
        return set(cats(SP | NL));
      case 'S':
        return set(cats(L | N | P));
      case 'b':
      case 'B':
        return inClass ? chars(['\b']) : { t: 'empty' };
      case 'p':
      case 'P': {
        const m = /^\{([^}]*)\}/.exec(this.s.slice(this.i));
        if (!m) return set(cats(ALL));
        this.i += m[0].length;
        const pc = propertyCats(m[1] as string);
        return set(cats(c === 'p' ? pc : ALL & ~pc || ALL));
      }
      case 'k':
        if (!inClass && this.peek() === '<') {
          const end = this.s.indexOf('>', this.i);
          this.i = end < 0 ? this.s.length : end + 1;
          return { t: 'backref' };
        }
        return set(chars(['k']));
      case 'n':
        return set(chars(['\n']));
      case 'r':
        return set(chars(['\r']));
      case 't':
        return set(chars(['\t']));
      case 'f':
        return set(chars(['\f']));
      case 'v':
        return set(chars(['\v']));
      case 'x': {
        const m = /^[0-9a-fA-F]{2}/.exec(this.s.slice(this.i));
        if (!m) return set(chars(['x']));
        this.i += 2;
        return set(chars([String.fromCharCode(parseInt(m[0], 16))]));
      }
      case 'u': {
        const m = /^(?:\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{4}))/.exec(this.s.slice(this.i));
        if (!m) return set(chars(['u']));
        this.i += m[0].length;
        const cp = parseInt((m[1] ?? m[2]) as string, 16);
        return set(cp <= 0x10ffff ? chars([String.fromCodePoint(cp)]) : cats(ALL));
      }
      case 'c':
        this.i++;
        return set(cats(P));
      default:
        if (/[1-9]/.test(c) && !inClass) {
          while (/[0-9]/.test(this.peek() ?? '')) this.i++;
          return { t: 'backref' };
        }
        if (c === '0') return set(chars(['\0']));
        return set(chars([c]));
    }
  }

  parseClass(): CharSet {
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.i++;
    }
    let acc: CharSet = { cats: 0, chars: new Set() };
    while (this.i < this.s.length && this.peek() !== ']') {
      let item: CharSet;
      let lo: string | null = null;
      if (this.peek() === '\\') {
        this.i++;
        item = this.parseEscape(true) as CharSet;
        if (item.chars && item.chars.size === 1) lo = [...item.chars][0] as string;
      } else if (this.peek() === '[') {
        // a nested class (v-mode) or a literal bracket: treat conservatively
        this.i++;
        item = this.parseClass();
      } else {
        const cp = this.s.codePointAt(this.i) as number;
        lo = String.fromCodePoint(cp);
        this.i += lo.length;
        item = chars([lo]);
      }
      if (lo !== null && this.peek() === '-' && this.s[this.i + 1] !== ']' && this.i + 1 < this.s.length) {
        this.i++;
        let hi: string;
        if (this.peek() === '\\') {
          this.i++;
          const e = this.parseEscape(true) as CharSet;
          hi = e.chars && e.chars.size === 1 ? ([...e.chars][0] as string) : lo;
        } else {
          hi = String.fromCodePoint(this.s.codePointAt(this.i) as number);
          this.i += hi.length;
        }
        const a = lo.codePointAt(0) as number;
        const b = hi.codePointAt(0) as number;
        if (b >= a && b - a <= 512) {
          const list: string[] = [];
          for (let x = a; x <= b; x++) list.push(String.fromCodePoint(x));
          item = chars(list);
        } else item = cats(ALL);
      }
      acc = union(acc, item);
    }
    if (this.peek() === ']') this.i++;
    if (!negate) return acc;
    // a category leaves the complement only when the class covers all of it
    let covered = acc.chars ? 0 : acc.cats;
    if (acc.chars?.has('\n') && acc.chars.has('\r')) covered |= NL;
    return cats(ALL & ~covered || ALL);
  }
}

function canBeEmpty(n: Node): boolean {
  switch (n.t) {
    case 'atom':
      return false;
    case 'empty':
    case 'backref':
      return true;
    case 'group':
      return n.look || n.alt.some((seq) => seq.every(canBeEmpty));
    case 'quant':
      return n.min === 0 || canBeEmpty(n.node);
  }
}

/** A repetition with a choice of count (a fixed count such as `\d{3}` leaves nothing to backtrack over). */
function hasRepeat(n: Node): boolean {
  if (n.t === 'quant') return (n.max > 1 && n.max !== n.min) || hasRepeat(n.node);
  if (n.t === 'group') return n.alt.some((seq) => seq.some(hasRepeat));
  return false;
}

/** The characters a node can match anywhere (an over-approximation). */
function setOf(n: Node): CharSet {
  switch (n.t) {
    case 'atom':
      return n.set;
    case 'quant':
      return setOf(n.node);
    case 'group':
      return n.alt.flat().reduce<CharSet>((a, x) => union(a, setOf(x)), { cats: 0, chars: new Set() });
    default:
      return { cats: 0, chars: new Set() };
  }
}

/** The characters a sequence can start with. */
function firstOf(seq: Node[]): CharSet {
  let acc: CharSet = { cats: 0, chars: new Set() };
  for (const n of seq) {
    const f = n.t === 'group' && !n.look ? n.alt.map(firstOf).reduce(union, { cats: 0, chars: new Set() }) : n.t === 'quant' ? firstOf([n.node]) : setOf(n);
    acc = union(acc, f);
    if (!canBeEmpty(n)) break;
  }
  return acc;
}

function ambiguousAlternation(n: Node): boolean {
  if (n.t === 'quant') return ambiguousAlternation(n.node);
  if (n.t !== 'group') return false;
  if (n.alt.length > 1) {
    const firsts = n.alt.map(firstOf);
    for (let a = 0; a < firsts.length; a++) for (let b = a + 1; b < firsts.length; b++) if (overlap(firsts[a] as CharSet, firsts[b] as CharSet)) return true;
  }
  return n.alt.some((seq) => seq.some(ambiguousAlternation));
}

const unbounded = (n: Node): boolean => n.t === 'quant' && n.max > 16;

function hasUnbounded(n: Node): boolean {
  if (n.t === 'quant') return n.max > 16 || hasUnbounded(n.node);
  if (n.t === 'group') return n.alt.some((seq) => seq.some(hasUnbounded));
  return false;
}

/** Runs of adjacent unbounded repetitions over overlapping characters. */
function sequenceHazard(seq: Node[], topLevel: boolean): string | null {
  for (let i = 0; i < seq.length; i++) {
    const head = seq[i] as Node;
    if (!unbounded(head)) continue;
    let set = setOf(head);
    let run = 1;
    let j = i + 1;
    for (; j < seq.length; j++) {
      const n = seq[j] as Node;
      if (unbounded(n) && overlap(set, setOf(n))) {
        run++;
        set = union(set, setOf(n));
      } else if (canBeEmpty(n) || (n.t === 'atom' && overlap(set, n.set))) continue;
      else break;
    }
    const atEnd = j >= seq.length && topLevel;
    if (run >= 3) return 'three or more adjacent repetitions that can match the same characters';
    if (run === 2 && !atEnd) return 'two adjacent repetitions that can match the same characters, followed by more pattern';
  }
  return null;
}

/** Reasons of the exponential kind (the others are polynomial in the input length). */
const EXPONENTIAL = new Set(['a backreference', 'a repeated part that itself repeats (nested quantifiers)', 'a repeated alternation whose branches can match the same text', 'a repeated part that can match the empty string']);

function nodeHazard(n: Node): string | null {
  if (n.t === 'backref') return 'a backreference';
  if (n.t === 'quant') {
    if (n.max > 1) {
      if (hasRepeat(n.node) && (n.max > 16 || hasUnbounded(n.node))) return 'a repeated part that itself repeats (nested quantifiers)';
      if (ambiguousAlternation(n.node)) return 'a repeated alternation whose branches can match the same text';
      if (canBeEmpty(n.node)) return 'a repeated part that can match the empty string';
    }
    return nodeHazard(n.node);
  }
  if (n.t === 'group') return altHazard(n.alt, false);
  return null;
}

function altHazard(alt: Node[][], topLevel: boolean): string | null {
  for (const seq of alt) {
    for (const n of seq) {
      const h = nodeHazard(n);
      if (h) return h;
    }
    const h = sequenceHazard(seq, topLevel);
    if (h) return h;
  }
  return null;
}

export interface RegexHazard {
  reason: string;
  /** Time can grow exponentially with the input (else polynomially, with degree 2 or more). */
  exponential: boolean;
}

/** Why `source` may backtrack catastrophically, or null when it has none of the shapes above. */
export function regexHazard(source: string): RegexHazard | null {
  const p = new Parser(source);
  const alt = p.parseAlt();
  while (p.i < source.length) {
    // an unbalanced ')' (a syntax error the RegExp constructor reports): keep scanning the rest
    p.i++;
    alt.push(...p.parseAlt());
  }
  const reason = altHazard(alt, true);
  return reason === null ? null : { reason, exponential: EXPONENTIAL.has(reason) };
}
