/**
 * coco-caption's tokenisation, in TypeScript.
 *
 * pycocoevalcap runs Stanford CoreNLP 3.4.1's PTBTokenizer
 * (`-preserveLines -lowerCase`, default options, i.e. PTB3 escaping) on every
 * caption, then drops the tokens in PUNCTUATIONS below. Java is not assumed
 * here, so this file re-implements the parts of that lexer that matter for
 * caption text. Behaviour reproduced, each as the 3.4.1 lexer does it:
 *
 * - whitespace separates tokens; a newline inside a caption is a space (the
 *   Python wrapper replaces "\n" by " " before calling Java);
 * - punctuation is split off words: . , ; : ! ? quotes brackets dashes;
 *   "..."/"…" become "...", "--"/en/em dashes become "--", every kind of
 *   double or single quote becomes `` / '' / ` / ' (all four are then removed);
 * - ( ) [ ] { } become -LRB- -RRB- -LSB- -RSB- -LCB- -RCB- (text that already
 *   says "-LRB-" keeps it as one token), which `-lowerCase`
 *   turns into -lrb- etc. The Python list removes "-LRB-" in upper case only,
 *   so in coco-caption these tokens SURVIVE as "-lrb-"; we keep that quirk;
 * - clitics are split as in the Penn Treebank: "don't" → "do n't",
 *   "can't" → "ca n't", "it's" → "it 's", "we're/'ve/'ll/'d/'m" likewise,
 *   "cannot" → "can not", "gonna/gotta/wanna/lemme/gimme" → "gon na" …,
 *   "'tis" → "'t is"; a plural possessive "dogs'" → "dogs '" ("'" removed);
 *   "o'clock", "rock'n'roll", "'90s" stay whole;
 * - hyphenated words stay whole ("black-and-white"; 3.4.1 did not split
 *   hyphens), numbers keep their inner . , : ("3.5", "1,000", "10:30"),
 *   a sign before a number stays on it ("-5");
 * - "/" inside a token is escaped "\/" and "*" as "\*" (PTB3 escaping);
 * - acronyms keep their final period ("u.s.", "e.g.", "a.m."); a single
 *   letter does not ("I." → "I" "."); a list of common abbreviations keeps it
 *   ("mr.", "st.", "dr.", "etc.", "jan.", "inc.", "vs." …, caseless as the
 *   lexer is);
 * - "&amp;" is "&"; soft hyphens are dropped; text is NFC-normalised;
 * - every token is lower-cased (Java `toLowerCase(Locale.ENGLISH)`).
 *
 * Known differences from the Java lexer (rare in captions): no SGML/XML
 * tags, phone numbers, smileys, Twitter handles or spaced fractions; no
 * currency normalisation; the abbreviation list is shorter (no US states);
 * any symbol not named above is its own one-character token; U+2028,
 * U+0085 and other line separators are treated as spaces (the Java lexer
 * turns them into line breaks, which misaligns coco-caption's output lines —
 * a bug we do not reproduce).
 */

/** Tokens coco-caption removes after tokenising (pycocoevalcap PUNCTUATIONS). */
export const PUNCTUATIONS: ReadonlySet<string> = new Set([
  "''",
  "'",
  '``',
  '`',
  '-LRB-',
  '-RRB-',
  '-LCB-',
  '-RCB-',
  '.',
  '?',
  '!',
  ',',
  ':',
  '-',
  '--',
  '...',
  ';',
]);

// Abbreviations that keep their period (from the lexer's ABMONTH, ABDAYS,
// ABCOMP, ABNUM, ABPTIT, ABVARIA, ABTITLE and ABCOMP2 classes; US states left
// out because several are common words: "ill", "mass", "wash", "miss").
const ABBREVIATIONS: ReadonlySet<string> = new Set(
  (
    'jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri ' +
    'inc co cos corp ltd plc assn univ intl ' +
    'tel est ext sq jr sr bros esq etc al vs ' +
    'mr mrs ms dr drs prof profs sen sens rep reps gov govs gen col lt adm rev maj sgt cpl pvt capt ' +
    'st ste sta ave pres lieut hon brig cmdr mt ft dept blvd rd mfg natl'
  ).split(' '),
);

const SPACE = /[\s\x1c-\x1f\x85]+/u;
const URL_RE = /(?:(?:https?|ftp):\/\/|www\.)[^\s"'<>()[\]{}]*[^\s"'<>()[\]{}.,;:!?]/uy;
const EMAIL_RE = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/uy;
// already-escaped brackets ("-LRB-") stay one token, as the lexer's TBSPEC rule keeps them
const ESCAPED_BRACKET_RE = /-(?:LRB|RRB|LCB|RCB|LSB|RSB)-/iuy;
const ACRONYM_RE = /[A-Za-z](?:\.[A-Za-z])+\.(?![\p{L}\p{N}])/uy;
const ABBREV_RE = /(\p{L}+)\.(?![\p{L}\p{N}])/uy;
const APOS_WORD_RE = /['’](?:\d\ds?|em|til|till|cause)(?![\p{L}\p{N}])/iuy;
const APOS_TIS_RE = /['’](tis|twas)(?![\p{L}\p{N}])/iuy;
// A word: letters, digits and marks, joined by single hyphens, apostrophes,
// periods or slashes; commas and colons only between digits; "&" only
// between capitals ("AT&T"). A sign directly before a digit belongs to it.
const WORD_RE =
  /(?:[-+\u2212](?=\p{N}))?[\p{L}\p{N}\p{M}_]+(?:(?:[-'’./\u00AD]|(?<=\p{N})[,:](?=\p{N})|(?<=\p{Lu})&(?=\p{Lu}))[\p{L}\p{N}\p{M}_]+)*/uy;
const DOTS_RE = /\.{2,}|…+/uy;
const DASHES_RE = /-{2,}|[\u2013\u2014\u2015]+/uy;
const HYPHEN_RE = /[-\u2010-\u2012]/uy;
const QUOTE_RE = /``|''|["“”„‟«»‹›`'‘’‚‛]/uy;
const ASTERISKS_RE = /\*+/uy;
const ONE_CHAR_RE = /[\s\S]/uy;

const BRACKETS: Readonly<Record<string, string>> = {
  '(': '-LRB-',
  ')': '-RRB-',
  '[': '-LSB-',
  ']': '-RSB-',
  '{': '-LCB-',
  '}': '-RCB-',
};

const ASSIMILATIONS: Readonly<Record<string, number>> = {
  // word → length of its first part
  cannot: 3,
  gonna: 3,
  gotta: 3,
  wanna: 3,
  lemme: 3,
  gimme: 3,
};

const NOT_RE = /^(.*\p{L})(n't)$/iu;
const REDAUX_RE = /^(.*[\p{L}\p{N}])('(?:s|m|d|re|ve|ll))$/iu;

function stickyMatch(re: RegExp, s: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(s);
}

/** Escapes as PTB3 does: "/" → "\/", "*" → "\*". */
function ptbEscape(tok: string): string {
  return tok.includes('/') || tok.includes('*') ? tok.replace(/([/*])/g, '\\$1') : tok;
}

/** Splits one word-like token into its Penn Treebank pieces (clitics). */
function splitWord(word: string, out: string[]): void {
  const w = word.replace(/’/g, "'").replace(/\u00AD/g, '');
  const first = ASSIMILATIONS[w.toLowerCase()];
  if (first !== undefined) {
    out.push(w.slice(0, first), w.slice(first));
    return;
  }
  const tail: string[] = [];
  let stem = w;
  const not = NOT_RE.exec(stem);
  if (not) {
    stem = not[1]!;
    tail.unshift(not[2]!);
  } else {
    // up to two reduced auxiliaries: "I'd've" → "I 'd 've"
    for (let k = 0; k < 2; k++) {
      const m = REDAUX_RE.exec(stem);
      if (!m) break;
      stem = m[1]!;
      tail.unshift(m[2]!);
    }
  }
  out.push(ptbEscape(stem), ...tail);
}

/** Tokens of one whitespace-free chunk, before lower-casing and removal. */
function lexChunk(c: string, out: string[]): void {
  const maybeUrl = c.includes('://') || /www\./i.test(c);
  const maybeEmail = c.includes('@');
  let p = 0;
  while (p < c.length) {
    let m: RegExpExecArray | null;
    if (maybeUrl && (m = stickyMatch(URL_RE, c, p))) {
      out.push(ptbEscape(m[0]));
    } else if (maybeEmail && (m = stickyMatch(EMAIL_RE, c, p))) {
      out.push(m[0]);
    } else if ((m = stickyMatch(ESCAPED_BRACKET_RE, c, p))) {
      out.push(m[0]);
    } else if ((m = stickyMatch(ACRONYM_RE, c, p))) {
      out.push(m[0]);
    } else if ((m = stickyMatch(ABBREV_RE, c, p)) && ABBREVIATIONS.has(m[1]!.toLowerCase())) {
      out.push(m[0]);
    } else if ((m = stickyMatch(APOS_WORD_RE, c, p))) {
      out.push(m[0].replace('’', "'"));
    } else if ((m = stickyMatch(APOS_TIS_RE, c, p))) {
      out.push("'" + m[1]!.slice(0, 1), m[1]!.slice(1));
    } else if ((m = stickyMatch(WORD_RE, c, p))) {
      splitWord(m[0], out);
    } else if ((m = stickyMatch(DOTS_RE, c, p))) {
      out.push('...');
    } else if ((m = stickyMatch(DASHES_RE, c, p))) {
      out.push('--');
    } else if ((m = stickyMatch(HYPHEN_RE, c, p))) {
      out.push('-');
    } else if ((m = stickyMatch(QUOTE_RE, c, p))) {
      // which of `` '' ` ' it would be does not matter: all four are removed
      out.push("''");
    } else if ((m = stickyMatch(ASTERISKS_RE, c, p))) {
      out.push(ptbEscape(m[0]));
    } else {
      m = stickyMatch(ONE_CHAR_RE, c, p)!;
      out.push(BRACKETS[m[0]] ?? m[0]);
    }
    p += m[0].length;
  }
}

/** PTB tokens of a caption, original case, punctuation still in. */
export function ptbLex(caption: string): string[] {
  const text = caption.normalize('NFC').replace(/&amp;/gi, '&');
  const out: string[] = [];
  for (const chunk of text.split(SPACE)) if (chunk) lexChunk(chunk, out);
  return out;
}

/** Receives one scored token as the span [start, end) of `text`. */
export type TokenSink = (text: string, start: number, end: number) => void;

function emitScored(tokens: readonly string[], emit: TokenSink): void {
  for (const t of tokens) {
    const low = t.toLowerCase();
    if (!PUNCTUATIONS.has(low)) emit(low, 0, low.length);
  }
}

// Most captions are ASCII letters, digits, spaces and sentence punctuation.
// For such text every rule above reduces to: a chunk of letters and digits
// with at most one trailing "." or "," is that word (the punctuation is a
// token coco-caption removes), except that a listed abbreviation keeps its
// period and "cannot"/"gonna"… split. Chunks of any other shape take the full
// lexer; a test checks both paths agree on generated text. The shortcut hands
// out spans of the lower-cased caption, so a caller that interns tokens
// (corpus.ts) never builds a string per token.
const PLAIN_CAPTION = /^[A-Za-z0-9 .,]*$/;
const SPACE_CODE = 32;
const PERIOD_CODE = 46;

function isAlnumCode(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

/**
 * The tokens of a caption exactly as coco-caption scores it (PTB-tokenised,
 * lower-cased, punctuation tokens removed), handed to `emit` one by one.
 */
export function cocoTokenSpans(caption: string, emit: TokenSink): void {
  if (!PLAIN_CAPTION.test(caption)) {
    emitScored(ptbLex(caption), emit);
    return;
  }
  const low = caption.toLowerCase(); // ASCII: same length, same positions
  const n = low.length;
  let i = 0;
  while (i < n) {
    if (low.charCodeAt(i) === SPACE_CODE) {
      i++;
      continue;
    }
    // the alphanumeric run from i, then the rest of the chunk (usually nothing or one mark)
    let w = i;
    let letters = true;
    // (bounds checked before reading: reading past the end costs the optimised code)
    for (; w < n; w++) {
      const c = low.charCodeAt(w);
      if (!isAlnumCode(c)) break;
      if (c < 97) letters = false;
    }
    let end = w;
    while (end < n && low.charCodeAt(end) !== SPACE_CODE) end++;
    if (w === i || end - w > 1) {
      const lexed: string[] = [];
      lexChunk(caption.slice(i, end), lexed);
      emitScored(lexed, emit);
    } else {
      const len = w - i;
      // "cannot", "gonna", "gotta", "wanna", "lemme", "gimme": a string is cut only for those shapes
      const first = (len === 5 || len === 6) && ASSIMILATION_INITIALS.includes(low[i]!) ? ASSIMILATIONS[low.slice(i, w)] : undefined;
      if (first !== undefined) {
        emit(low, i, i + first);
        emit(low, i + first, w);
      } else if (w < end && letters && low.charCodeAt(w) === PERIOD_CODE && len <= MAX_ABBREVIATION && ABBREVIATIONS.has(low.slice(i, w))) {
        emit(low, i, w + 1);
      } else emit(low, i, w);
    }
    i = end;
  }
}

const MAX_ABBREVIATION = Math.max(...[...ABBREVIATIONS].map((a) => a.length));
const ASSIMILATION_INITIALS = [...new Set(Object.keys(ASSIMILATIONS).map((w) => w[0]!))].join('');

/** The tokens of a caption as coco-caption scores them (see cocoTokenSpans). */
export function cocoTokenize(caption: string): string[] {
  const out: string[] = [];
  cocoTokenSpans(caption, (text, start, end) => out.push(text.slice(start, end)));
  return out;
}

/** cocoTokenize through the full lexer only, without the plain-text shortcut (for tests). */
export function cocoTokenizeFull(caption: string): string[] {
  const out: string[] = [];
  emitScored(ptbLex(caption), (text) => out.push(text));
  return out;
}
