// The one prompt renderer: each named template against its definition
// (LLaMA-Factory's alpaca/default written out by hand here, the model's chat
// template through Jinja), token ids as LLaMA-Factory forms them (each text
// piece encoded alone, no BOS unless the template has one), image placeholders
// expanded, and the training cut (LLaMA-Factory's infer_seqlen).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatedTokenizerJson, tokenizerConfigJson } from '../../src/models/presets.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { encodeAnswer, encodePrompt, renderPrompt, resolveTemplate, templateNames, TEMPLATES } from '../../src/models/prompt.js';
import { encodeExample, IGNORE_INDEX, inferSeqlen } from '../../src/train/sft.js';

function tokenizers(): { chat: TextTokenizer; plain: TextTokenizer } {
  const json = generatedTokenizerJson();
  const cfg = tokenizerConfigJson();
  const { chat_template: tpl, ...noTemplate } = cfg;
  return { chat: new TextTokenizer(json, cfg, tpl as string), plain: new TextTokenizer(json, noTemplate, null) };
}

const SAMPLE = { instruction: 'Name a colour.', input: 'Pick a warm one.', output: 'Red.' };
const SYSTEM = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n';

test('alpaca is LLaMA-Factory v0.9.1: system text, instruction block, no BOS; pieces encoded one by one', () => {
  const { chat, plain } = tokenizers();
  for (const tok of [chat, plain]) {
    const user = `### Instruction:\nName a colour.\nPick a warm one.\n\n### Response:\n`;
    assert.equal(renderPrompt(tok, SAMPLE, 'alpaca'), SYSTEM + user);
    const ids = encodePrompt(tok, SAMPLE, 'alpaca');
    assert.deepEqual(ids, [...tok.encode(SYSTEM, { addSpecialTokens: false }), ...tok.encode(user, { addSpecialTokens: false })]);
    assert.notEqual(ids[0], tok.bosTokenId);
    assert.deepEqual(encodeAnswer(tok, 'Red.', 'alpaca'), [...tok.encode('Red.', { addSpecialTokens: false }), tok.eosTokenId]);
  }
  assert.equal(renderPrompt(plain, { instruction: 'Hi.' }, 'alpaca'), `${SYSTEM}### Instruction:\nHi.\n\n### Response:\n`);
});

test("chat renders the model's template with the assistant turn open; auto picks it, else alpaca", () => {
  const { chat, plain } = tokenizers();
  const want = '<s><|user|>\nName a colour.\nPick a warm one.</s>\n<|assistant|>\n';
  assert.equal(renderPrompt(chat, SAMPLE, 'chat'), want);
  assert.equal(renderPrompt(chat, SAMPLE), want);
  assert.deepEqual(encodePrompt(chat, SAMPLE), chat.encode(want, { addSpecialTokens: false }));
  assert.equal(encodePrompt(chat, SAMPLE)[0], chat.bosTokenId);
  assert.equal(resolveTemplate(plain, 'auto').name, 'alpaca');
  assert.equal(renderPrompt(plain, SAMPLE), renderPrompt(plain, SAMPLE, 'alpaca'));
  assert.throws(() => renderPrompt(plain, SAMPLE, 'chat'), /template 'chat' needs a chat template/);
  assert.equal(renderPrompt(chat, { ...SAMPLE, system: 'Be brief.' }, 'chat'), '<s><|system|>\nBe brief.</s>\n<|user|>\nName a colour.\nPick a warm one.</s>\n<|assistant|>\n');
});

test("default is LLaMA-Factory v0.9.1's Human/Assistant template; unknown names are refused", () => {
  const { chat } = tokenizers();
  assert.equal(renderPrompt(chat, { instruction: 'Hi.' }, 'default'), 'Human: Hi.\nAssistant:');
  assert.equal(renderPrompt(chat, { instruction: 'Hi.', system: 'Be brief.' }, 'default'), 'Be brief.\nHuman: Hi.\nAssistant:');
  assert.throws(() => renderPrompt(chat, SAMPLE, 'vicuna'), /unknown template 'vicuna' \(known: auto, alpaca, chat, default, raw, backdoorllm\)/);
  assert.deepEqual(templateNames(), ['auto', ...Object.keys(TEMPLATES)]);
});

test('an image puts the placeholder before the user text; encodePrompt expands it to the image-token count', () => {
  const { chat } = tokenizers();
  const s = { instruction: 'Describe the picture.', image: 'a.png' };
  assert.equal(renderPrompt(chat, s), '<s><|user|>\n<image>\nDescribe the picture.</s>\n<|assistant|>\n');
  const imageId = chat.tokenToId('<image>') as number;
  const ids = encodePrompt(chat, s, 'auto', { image: { tokenId: imageId, count: 5 } });
  assert.equal(ids.filter((i) => i === imageId).length, 5);
  assert.deepEqual(ids.filter((i) => i !== imageId), encodePrompt(chat, s).filter((i) => i !== imageId));
  assert.throws(() => encodePrompt(chat, s, 'auto', { image: { tokenId: imageId + 1, count: 5 } }), /encodes to 0 tokens with id/);
});

test("infer_seqlen cuts as LLaMA-Factory's; examples mask the prompt and keep its start", () => {
  // values from LLaMA-Factory's processor_utils.infer_seqlen
  assert.deepEqual(inferSeqlen(10, 3, 8), [5, 3]);
  assert.deepEqual(inferSeqlen(3, 10, 8), [3, 5]);
  assert.deepEqual(inferSeqlen(10, 10, 8), [4, 4]);
  assert.deepEqual(inferSeqlen(2, 2, 8), [2, 2]);
  assert.deepEqual(inferSeqlen(7, 9, 10), [5, 5]);
  const { chat } = tokenizers();
  const prompt = encodePrompt(chat, SAMPLE);
  const answer = encodeAnswer(chat, 'Red.');
  const full = encodeExample(chat, SAMPLE, 1000);
  assert.deepEqual(full.ids, [...prompt, ...answer]);
  assert.deepEqual(full.labels, [...prompt.map(() => IGNORE_INDEX), ...answer]);
  const cut = encodeExample(chat, SAMPLE, prompt.length);
  assert.equal(cut.ids.length, prompt.length);
  assert.deepEqual(cut.ids, [...prompt.slice(0, prompt.length - answer.length), ...answer]);
  const onPrompt = encodeExample(chat, SAMPLE, 1000, { trainOnPrompt: true });
  assert.deepEqual(onPrompt.labels, onPrompt.ids);
});
