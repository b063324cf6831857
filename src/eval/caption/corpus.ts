/**
 * A tokenised caption corpus with every token and n-gram replaced by a dense
 * integer id, so the metrics work on typed arrays instead of string-keyed
 * maps. This is what keeps scoring linear in the corpus size: no per-n-gram
 * string building, a heap that does not grow with the corpus, and O(1) array
 * look-ups for document frequencies and clipped counts.
 *
 * An n-gram's id is interned from (id of its first n−1 tokens, last token), so
 * equal n-grams get equal ids in every sentence; each order has its own ids.
 * Within a sentence, the distinct n-grams of each order are kept in
 * first-occurrence order, which is the iteration order of
 * pycocoevalcap's Python dicts; sums over them therefore add in the same
 * order as the reference and give the same floating-point results.
 */

import type { TokenSink } from './ptb-tokenizer.js';

/** An Int32Array that grows by doubling. */
class IntBuffer {
  data: Int32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Int32Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }
  /** Makes room for `extra` more values, so a loop can write `data` directly. */
  reserve(extra: number): Int32Array {
    if (this.length + extra > this.data.length) {
      const d = new Int32Array(Math.max(this.data.length * 2, this.length + extra));
      d.set(this.data.subarray(0, this.length));
      this.data = d;
    }
    return this.data;
  }
  /** The filled part (a view, no copy). */
  done(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * Growable n-gram counts: one byte each until a count would pass 255 (a
 * sentence repeating one n-gram that often), then four bytes each from then
 * on. Counts are a quarter of the corpus's memory as Int32, and first-touch
 * page faults on that memory are much of the encoding time.
 */
class CountBuffer {
  data: Uint8Array | Int32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Uint8Array(capacity);
  }
  /** Makes room for `extra` more counts (see IntBuffer.reserve). */
  reserve(extra: number): Uint8Array | Int32Array {
    if (this.length + extra > this.data.length) {
      const capacity = Math.max(this.data.length * 2, this.length + extra);
      const d = this.data instanceof Uint8Array ? new Uint8Array(capacity) : new Int32Array(capacity);
      d.set(this.data.subarray(0, this.length));
      this.data = d;
    }
    return this.data;
  }
  /** Switches to four bytes per count, keeping every count written so far. */
  widen(): Int32Array {
    const d = Int32Array.from(this.data);
    this.data = d;
    return d;
  }
  done(): Uint8Array | Int32Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * Open-addressing hash map (linear probing) from an (int, int) pair to an
 * int. Entries sit in insertion order as [a, b, value] triples and a slot
 * holds only an entry's index + 1, so the table proper stays a third of the
 * size of one that carries its keys: at a million n-grams the time goes into
 * first-touch page faults and cache misses on this memory, and a lookup that
 * hits reads one slot and one entry (key and value on the same cache line).
 */
class PairMap {
  private mask: number;
  /** entry + 1 per slot; 0 marks an empty slot */
  private slots: Int32Array;
  /** entry e is [a, b, value] at 3e .. 3e + 2 */
  private readonly entries: IntBuffer;
  size = 0;

  constructor(expected = 1024) {
    let cap = 1024;
    while (cap * 3 < expected * 4) cap *= 2;
    this.mask = cap - 1;
    this.slots = new Int32Array(cap);
    this.entries = new IntBuffer(3 * Math.max(1024, Math.ceil(expected)));
  }

  /** Empties the map, keeping its memory (already paged in) for the next order. */
  clear(): void {
    this.slots.fill(0);
    this.entries.length = 0;
    this.size = 0;
  }

  private static hash(a: number, b: number): number {
    let h = Math.imul(a ^ 0x27d4eb2d, 0x85ebca6b) ^ Math.imul(b + 0x165667b1, 0xc2b2ae35);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return (h ^ (h >>> 13)) >>> 0;
  }

  /** The value of (a, b); where there is none, `value` becomes it and is returned. */
  getOrSet(a: number, b: number, value: number): number {
    const slots = this.slots;
    const entries = this.entries.data;
    let i = PairMap.hash(a, b) & this.mask;
    for (;;) {
      const v = slots[i]!;
      if (v === 0) {
        slots[i] = ++this.size;
        const e = this.entries.reserve(3);
        e[this.entries.length++] = a;
        e[this.entries.length++] = b;
        e[this.entries.length++] = value;
        if (this.size * 4 > (this.mask + 1) * 3) this.grow();
        return value;
      }
      const e = 3 * (v - 1);
      if (entries[e] === a && entries[e + 1] === b) return entries[e + 2]!;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    const slots = (this.slots = new Int32Array(cap));
    const entries = this.entries.data;
    for (let e = 0; e < this.size; e++) {
      let i = PairMap.hash(entries[3 * e]!, entries[3 * e + 1]!) & this.mask;
      while (slots[i] !== 0) i = (i + 1) & this.mask;
      slots[i] = e + 1;
    }
  }
}

/**
 * Dense token ids by text. Looks up a span of a string without slicing it
 * (FNV-1a over the span's UTF-16 code units, linear probing), so a tokenizer
 * that hands out spans builds one string per distinct token, not one per
 * occurrence.
 */
class TokenTable {
  private readonly texts: string[] = [];
  private hashes = new Int32Array(1024); // id → hash of its text
  private slots = new Int32Array(4096); // id + 1; 0 marks an empty slot

  get size(): number {
    return this.texts.length;
  }

  /** The id of text[start, end), assigning the next one if new. */
  id(text: string, start = 0, end = text.length): number {
    let h = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    const mask = this.slots.length - 1;
    let i = h & mask;
    for (;;) {
      const v = this.slots[i]!;
      if (v === 0) break;
      if (this.hashes[v - 1] === h && this.equals(this.texts[v - 1]!, text, start, end)) return v - 1;
      i = (i + 1) & mask;
    }
    const id = this.texts.length;
    this.texts.push(text.slice(start, end));
    if (id === this.hashes.length) {
      const hs = new Int32Array(id * 2);
      hs.set(this.hashes);
      this.hashes = hs;
    }
    this.hashes[id] = h;
    this.slots[i] = id + 1;
    if (this.texts.length * 2 > this.slots.length) this.rehash();
    return id;
  }

  private equals(known: string, text: string, start: number, end: number): boolean {
    if (known.length !== end - start) return false;
    for (let k = 0; k < known.length; k++) if (known.charCodeAt(k) !== text.charCodeAt(start + k)) return false;
    return true;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let id = 0; id < this.texts.length; id++) {
      let i = this.hashes[id]! & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = id + 1;
    }
    this.slots = slots;
  }
}

/**
 * Dense ids for the n-grams of one order k ≥ 2, keyed by (id of the
 * (k−1)-gram prefix, last token). Every order has its own id space, so the
 * few frequent short n-grams get small ids and their per-id arrays stay in
 * cache, while the many rare long ones get ids in order of appearance, close
 * to the other n-grams of the same image. Most prefixes of length 2 and more
 * occur with one continuation only, so each prefix's first continuation
 * lives in a table indexed by the prefix id; only the other continuations (of
 * frequent prefixes such as "a" or "on the") go to the hash table, which
 * stays small. Together this keeps the time per n-gram flat as the corpus
 * grows.
 */
class OrderInterner {
  /** prefix id p → [token + 1 of its first continuation, that continuation's id] at 2p, 2p + 1 */
  private first = new Int32Array(2 << 10);
  /** (prefix, token) → id, for the continuations after a prefix's first */
  private readonly others: PairMap;
  size = 0;

  constructor(expected: number) {
    // sized for the whole run (a third of the n-grams are a frequent
    // prefix's later continuations in caption corpora): growing by doubling
    // copied and faulted in about twice the final size
    this.others = new PairMap(Math.max(1024, Math.ceil(expected / 3)));
    this.reserve(expected);
  }

  /**
   * Starts the next order's ids, keeping the tables: their memory is already
   * paged in, and first-touch page faults on fresh tables were a large part
   * of the time. The next order's prefixes are the ids 0..prefixes−1, so
   * only those entries of the prefix table need clearing.
   */
  clear(prefixes: number): void {
    this.first.fill(0, 0, Math.min(2 * prefixes, this.first.length));
    this.others.clear();
    this.size = 0;
  }

  /** Id of the n-gram made of the (k−1)-gram `prefix` followed by token `tok`. */
  childId(prefix: number, tok: number): number {
    if (2 * prefix >= this.first.length) this.reserve(prefix + 1);
    const first = this.first;
    const ft = first[2 * prefix]!;
    if (ft === tok + 1) return first[2 * prefix + 1]!;
    if (ft === 0) {
      first[2 * prefix] = tok + 1;
      first[2 * prefix + 1] = this.size;
      return this.size++;
    }
    const id = this.others.getOrSet(prefix, tok, this.size);
    if (id === this.size) this.size++;
    return id;
  }

  /** Room for prefixes 0..n−1. */
  private reserve(n: number): void {
    let cap = this.first.length;
    while (cap < 2 * n) cap *= 2;
    if (cap === this.first.length) return;
    const first = new Int32Array(cap);
    first.set(this.first);
    this.first = first;
  }
}

/**
 * Turns pos[t] from the id of the k-gram at token t into the id of the
 * (k+1)-gram there, for every t where one fits in its sentence (one long
 * loop over the corpus, so V8 optimises it once, on the stack).
 */
function internOrder(order: OrderInterner, pos: Int32Array, tokens: Int32Array, tokStart: Int32Array, k: number): void {
  for (let s = 0; s + 1 < tokStart.length; s++) {
    const end = tokStart[s + 1]! - k;
    for (let t = tokStart[s]!; t < end; t++) pos[t] = order.childId(pos[t]!, tokens[t + k]!);
  }
}

/**
 * The distinct n-grams of one order, sentence by sentence: sentence s has
 * `ids[j]` with counts `counts[j]` for j in `start[s] .. start[s+1]`, in
 * first-occurrence order. Ids are 0..size−1; unigram ids are token ids.
 */
export interface NgramOrder {
  size: number;
  start: Int32Array;
  ids: Int32Array;
  /** One byte per count unless some count passed 255. */
  counts: Uint8Array | Int32Array;
}

/**
 * The corpus, flat. Sentence s has tokens `tokens[tokStart[s] .. tokStart[s+1])`
 * and its n-grams of order k + 1 in `orders[k]` (k = 0 are unigrams). Image i
 * has candidate sentence `candidate[i]` and reference sentences
 * `refStart[i] .. refEnd[i]` (end exclusive).
 */
export interface EncodedCorpus {
  /** Highest n-gram order (4 for coco-caption). */
  n: number;
  images: number;
  orders: NgramOrder[];
  candidate: Int32Array;
  refStart: Int32Array;
  refEnd: Int32Array;
  tokStart: Int32Array;
  tokens: Int32Array;
}

/**
 * Interns tokens and n-grams of many sentences into one flat corpus: tokens
 * as each sentence is added, n-grams in finish(), one order at a time over
 * the whole corpus. One order at a time keeps only that order's interning
 * tables in cache, and each pass is one long loop that V8 optimises once;
 * per sentence and order in turn, the three orders' tables competed for the
 * cache and the code warmed up more slowly. An order's ids come out the same
 * either way: they are given in order of first appearance.
 */
export class CorpusEncoder {
  /** Token ids by text (addImage and addCaptions intern through it). */
  private readonly tokenTable = new TokenTable();
  private readonly tokens: IntBuffer;
  private readonly tokStart: IntBuffer;
  private sentences = 0;
  private readonly tokensHint: number;
  private at = new Map<number, number>();

  /** Sizes are hints: buffers start there and grow if needed. */
  constructor(
    readonly n = 4,
    hint: { sentences?: number; tokens?: number } = {},
  ) {
    const sentences = Math.max(16, hint.sentences ?? 1024);
    this.tokensHint = Math.max(64, hint.tokens ?? 8192);
    this.tokens = new IntBuffer(this.tokensHint);
    this.tokStart = new IntBuffer(sentences + 1);
    this.tokStart.push(0);
  }

  /** Appends the token text[start, end) to the sentence being built (see addCaptions). */
  private readonly pushToken = (text: string, start: number, end: number): void => {
    this.tokens.push(this.tokenTable.id(text, start, end));
  };

  /** Closes the sentence made of the tokens added since the previous one. */
  private endSentence(): void {
    this.tokStart.push(this.tokens.length);
    this.sentences++;
  }

  /**
   * The n-grams of every order. `pos[t]` holds the id of the n-gram of the
   * current order starting at token t; the next order's id at t is interned
   * from it and token t + k, in place.
   */
  private encodeOrders(): NgramOrder[] {
    const tokens = this.tokens.done();
    const tokStart = this.tokStart.done();
    const pos = tokens.slice();
    const orders: NgramOrder[] = [];
    // one interner for every order in turn (see OrderInterner.clear)
    const order = new OrderInterner(this.tokensHint);
    let size = this.tokenTable.size;
    for (let k = 0; k < this.n; k++) {
      if (k > 0) {
        // the prefixes of this order are the previous order's n-grams
        if (k > 1) order.clear(size);
        internOrder(order, pos, tokens, tokStart, k);
        size = order.size;
      }
      // an order has at most one n-gram per token
      const ids = new IntBuffer(this.tokensHint);
      const counts = new CountBuffer(this.tokensHint);
      const start = new Int32Array(this.sentences + 1);
      for (let s = 0; s < this.sentences; s++) {
        start[s] = ids.length;
        this.pushDistinct(pos, tokStart[s]!, Math.max(0, tokStart[s + 1]! - tokStart[s]! - k), ids, counts);
      }
      start[this.sentences] = ids.length;
      orders.push({ size, start, ids: ids.done(), counts: counts.done() });
    }
    return orders;
  }

  /** Appends the distinct values of a[b .. b+m) in first-occurrence order, with counts. */
  private pushDistinct(a: Int32Array, b: number, m: number, idBuffer: IntBuffer, countBuffer: CountBuffer): void {
    const ids = idBuffer.reserve(m);
    let cs = countBuffer.reserve(m);
    // counts reach m at most: bytes hold them unless m > 255 (the Map branch)
    const d0 = idBuffer.length;
    let d = d0;
    if (m <= 48) {
      for (let i = b; i < b + m; i++) {
        const v = a[i]!;
        let j = d0;
        while (j < d && ids[j] !== v) j++;
        if (j === d) {
          ids[d] = v;
          cs[d++] = 1;
        } else cs[j]!++;
      }
    } else {
      const at = this.at;
      at.clear();
      for (let i = b; i < b + m; i++) {
        const v = a[i]!;
        const j = at.get(v);
        if (j === undefined) {
          at.set(v, d);
          ids[d] = v;
          cs[d++] = 1;
        } else {
          // (only a sentence this long can repeat an n-gram 256 times)
          if (cs[j] === 255 && cs instanceof Uint8Array) cs = countBuffer.widen();
          cs[j]!++;
        }
      }
    }
    idBuffer.length = d;
    countBuffer.length = d;
  }

  /** Adds one image: its candidate and its references (at least one), as token strings. */
  addImage(candidate: readonly string[], references: readonly (readonly string[])[]): void {
    this.beginImage(references.length);
    for (const words of [candidate, ...references]) {
      for (const w of words) this.tokens.push(this.tokenTable.id(w, 0, w.length));
      this.endSentence();
    }
    this.endImage();
  }

  /**
   * The same with raw captions and a tokenizer that hands out spans of text
   * (ptb-tokenizer.ts: cocoTokenSpans): tokens go straight into the corpus,
   * with no array per sentence and no string per token.
   */
  addCaptions(candidate: string, references: readonly string[], tokenize: (caption: string, emit: TokenSink) => void): void {
    this.beginImage(references.length);
    tokenize(candidate, this.pushToken);
    this.endSentence();
    for (let r = 0; r < references.length; r++) {
      tokenize(references[r]!, this.pushToken);
      this.endSentence();
    }
    this.endImage();
  }

  /** Opens an image whose candidate is the next sentence and whose references follow it. */
  private beginImage(references: number): void {
    if (references === 0) throw new RangeError(`image ${this.candidates.length} has no references`);
    this.candidates.push(this.sentences);
    this.refStarts.push(this.sentences + 1);
  }

  private endImage(): void {
    this.refEnds.push(this.sentences);
  }

  private readonly candidates = new IntBuffer(1024);
  private readonly refStarts = new IntBuffer(1024);
  private readonly refEnds = new IntBuffer(1024);

  finish(): EncodedCorpus {
    return {
      n: this.n,
      images: this.candidates.length,
      orders: this.encodeOrders(),
      candidate: this.candidates.done(),
      refStart: this.refStarts.done(),
      refEnd: this.refEnds.done(),
      tokStart: this.tokStart.done(),
      tokens: this.tokens.done(),
    };
  }
}

/**
 * Encodes candidates and their reference sets (token arrays). The sentences
 * are laid out image by image (candidate, then its references), which keeps
 * each image's data together in memory.
 */
export function encodeCorpus(
  candidates: readonly (readonly string[])[],
  references: readonly (readonly (readonly string[])[])[],
  n = 4,
): EncodedCorpus {
  if (candidates.length !== references.length) {
    throw new RangeError(`${candidates.length} candidates but ${references.length} reference sets`);
  }
  let tokens = 0;
  let sentences = candidates.length;
  for (let i = 0; i < candidates.length; i++) {
    tokens += candidates[i]!.length;
    sentences += references[i]!.length;
    for (const r of references[i]!) tokens += r.length;
  }
  const enc = new CorpusEncoder(n, { sentences, tokens });
  for (let i = 0; i < candidates.length; i++) enc.addImage(candidates[i]!, references[i]!);
  return enc.finish();
}
