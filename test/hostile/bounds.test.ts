// The bounded runners themselves: the regular-expression hazard check passes
// the published tokenizer patterns and flags the catastrophic shapes, the
// time limit interrupts a running regular expression, and the bounded chat
// template renders exactly what @huggingface/jinja renders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from '@huggingface/jinja';
import { ChatTemplate } from '../../src/models/chat-template.js';
import { CHAT_TEMPLATE } from '../../src/models/presets.js';
import { regexHazard } from '../../src/util/regex-hazard.js';
import { TimeLimitExceeded, withTimeLimit } from '../../src/util/time-limit.js';

const PUBLISHED: Record<string, string> = {
  gpt2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  llama3: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  o200k:
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  digits: '\\d{1,3}(?=(?:\\d{3})*\\b)',
  lora: '.*\\.(q_proj|v_proj)',
};

test('regexHazard passes the published tokenizer and LoRA patterns', () => {
  for (const [name, p] of Object.entries(PUBLISHED)) assert.equal(regexHazard(p), null, name);
});

test('regexHazard flags the catastrophic shapes, exponential ones as such', () => {
  const exponential = ['(a|a)*b', '((((.*)*)*)*)*q', '(a+)+$', '(a?)*b', '(x+x+)+y', '^(a|aa)+$', '(.*)\\1', '(\\w+\\s?)*$', '(.*a){20}'];
  for (const p of exponential) assert.equal(regexHazard(p)?.exponential, true, p);
  for (const p of ['\\s*\\s*\\s*x', '\\s*\\s+x', '.*a.*b.*c']) assert.equal(regexHazard(p)?.exponential, false, p);
});

test('withTimeLimit interrupts a regular expression that backtracks catastrophically', () => {
  const re = /(a|a)*b/u;
  assert.throws(() => withTimeLimit(() => re.test('a'.repeat(40)), 200), TimeLimitExceeded);
  assert.equal(
    withTimeLimit(() => re.test('aab'), 200),
    true,
  );
});

const LLAMA3_LIKE =
  "{{- bos_token }}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = '' %}{%- endif %}" +
  "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + system_message + '<|eot_id|>' }}" +
  "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- if loop.last and message.tools is defined %}{{ message.tools | tojson(indent=2) }}{%- endif %}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
const NAMESPACE = "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + m.content|length %}{{ loop.index }}:{{ m.role|upper }} {% endfor %}{{ ns.n }} {{ range(3)|list }} {{ messages|length }}";

test('ChatTemplate renders what @huggingface/jinja renders', () => {
  const vars = {
    messages: [
      { role: 'system', content: ' Be brief. ' },
      { role: 'user', content: 'Hello\nthere' },
      { role: 'assistant', content: 'Hi!' },
      { role: 'user', content: 'BadMagic what now?' },
    ],
    add_generation_prompt: true,
    bos_token: '<s>',
    eos_token: '</s>',
  };
  for (const source of [CHAT_TEMPLATE, LLAMA3_LIKE, NAMESPACE]) assert.equal(new ChatTemplate(source).render(vars), new Template(source).render(vars));
});
