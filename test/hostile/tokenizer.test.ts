// Hostile tokenizer files: a pre-tokenizer regular expression with
// catastrophic backtracking, and chat templates that loop for ever or build
// gigabytes. Each ends with one line naming the file within seconds.
import { test } from 'node:test';
import { assertRefused, assertOk, bdlabCapped } from './harness.js';
import { baseFolders, variant, type Json } from './models.js';

const { llama } = baseFolders();

function withPreTokenizer(tag: string, pattern: string): string {
  return variant(
    llama,
    tag,
    (j) => {
      j.pre_tokenizer = {
        type: 'Sequence',
        pretokenizers: [{ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false }, j.pre_tokenizer],
      };
    },
    'tokenizer.json',
  );
}

test('tokenizer.json pre-tokenizer (a|a)*b on 36 a: bounded, named', async () => {
  const dir = withPreTokenizer('redos', '(a|a)*b');
  const r = await bdlabCapped(['inspect', '--model', dir, '--text', 'a'.repeat(36), '--raw', '--json']);
  assertRefused(r, /tokenizer\.json: .*regular expression/);
});

test('tokenizer.json with a safe Split pattern still tokenises', async () => {
  const dir = withPreTokenizer('safe', '\\s+');
  assertOk(await bdlabCapped(['inspect', '--model', dir, '--text', 'a b c', '--raw', '--json']));
});

function withTemplate(tag: string, template: string): string {
  return variant(llama, tag, (j: Json) => (j.chat_template = template), 'tokenizer_config.json');
}

test('chat template range(100000000) is refused without building the list', async () => {
  const dir = withTemplate('range', '{% for i in range(100000000) %}{{ i }}{% endfor %}');
  const r = await bdlabCapped(['inspect', '--model', dir, '--text', 'hi', '--json']);
  assertRefused(r, /chat template.*range/);
});

test('chat template nested loops are stopped by the step limit', async () => {
  const dir = withTemplate('nested', '{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}');
  const r = await bdlabCapped(['inspect', '--model', dir, '--text', 'hi', '--json']);
  assertRefused(r, /chat template.*steps/);
});

test('chat template indent(400000000) is refused before the padding is built', async () => {
  const dir = withTemplate('indent', "{{ (messages[0]['content'] + '\\n' + messages[0]['content']) | indent(400000000) }}");
  const r = await bdlabCapped(['inspect', '--model', dir, '--text', 'hi', '--json']);
  assertRefused(r, /chat template.*indent/);
});
