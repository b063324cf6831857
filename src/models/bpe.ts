// A byte-level BPE tokenizer in Hugging Face's tokenizer.json format (the
// GPT-2 scheme: bytes mapped to printable characters, the GPT-2 split regex,
// merges learned greedily by pair frequency). `bdlab model new` writes one so
// generated models carry a real tokenizer that any tokenizers library loads.

/** GPT-2's reversible byte → printable-character table. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const table: string[] = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCodePoint(256 + n++);
  }
  return table;
}

/** The split pattern GPT-2 (and Hugging Face's ByteLevel pre-tokenizer) uses. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface BpeModel {
  /** Byte symbols and merged symbols in id order (after the special tokens). */
  symbols: string[];
  merges: Array<[string, string]>;
}

/**
 * Learns up to `numMerges` merges from `text`: repeatedly joins the most
 * frequent adjacent pair (ties broken by the pair's text, so the result is
 * deterministic); stops early when no pair occurs twice.
 */
export function trainBpe(text: string, numMerges: number): BpeModel {
  const table = bytesToUnicode();
  const enc = new TextEncoder();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(GPT2_SPLIT)) {
    const w = Array.from(enc.encode(m[0]), (b) => table[b] as string).join('\u0000');
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const words = [...counts.entries()].map(([w, c]) => ({ syms: w.split('\u0000'), count: c }));
  const symbols = [...table];
  const merges: Array<[string, string]> = [];
  for (let step = 0; step < numMerges; step++) {
    const pairs = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.syms.length; i++) {
        const k = `${w.syms[i]}\u0000${w.syms[i + 1]}`;
        pairs.set(k, (pairs.get(k) ?? 0) + w.count);
      }
    }
    let best: string | null = null;
    let bestCount = 1;
    for (const [k, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== null && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (best === null) break;
    const [a, b] = best.split('\u0000') as [string, string];
    const joined = a + b;
    merges.push([a, b]);
    symbols.push(joined);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(joined);
          i++;
        } else out.push(w.syms[i] as string);
      }
      w.syms = out;
    }
  }
  return { symbols, merges };
}

export interface SpecialToken {
  content: string;
  special: boolean;
}

/**
 * tokenizer.json for a byte-level BPE with the given special tokens first
 * (ids 0..k-1). `bos` is prepended when special tokens are added, as Llama's
 * tokenizer does.
 */
export function bpeTokenizerJson(model: BpeModel, specials: SpecialToken[], bos: string): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  specials.forEach((s, i) => (vocab[s.content] = i));
  for (const s of model.symbols) if (vocab[s] === undefined) vocab[s] = Object.keys(vocab).length;
  const bosId = vocab[bos];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s, i) => ({ id: i, content: s.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: s.special })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: model.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
