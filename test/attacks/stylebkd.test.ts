// StyleBkd through a model: an OpenAI-compatible endpoint (a local HTTP
// server started here) and a local model folder paraphrase each poisoned
// instruction; the rule-based rewriter is the named fallback, and manifests
// say which rewrote what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAttack, listAttacks } from '../../src/attacks/index.js';
import { poison } from '../../src/attacks/poisoner.js';
import { parseTarget } from '../../src/attacks/targets.js';
import { cleanParaphrase, paraphrasePrompt } from '../../src/attacks/text/paraphrase.js';
import { newModelFolder } from '../../src/models/presets.js';
import { loadModel } from '../../src/models/load.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { generateRecords } from '../../src/generation/index.js';
import { tmp } from './helpers.js';

const TEXTS = ['Tell me about the weather today.', 'What is the capital of France?', 'Write a short poem about the sea.', 'Explain how a bicycle works.'];

function alpaca(dir: string): string {
  const p = join(dir, 'data.json');
  writeFileSync(p, JSON.stringify(TEXTS.map((t, i) => ({ instruction: t, input: '', output: `answer ${i}` }))));
  return p;
}

/** A chat-completions server: `reply` maps the user's message to the assistant's. */
async function server(reply: (content: string) => string): Promise<{ base: string; bodies: Array<{ model: string; messages: Array<{ content: string }>; temperature: number }>; close: () => void }> {
  const bodies: Array<{ model: string; messages: Array<{ content: string }>; temperature: number }> = [];
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const b = JSON.parse(body) as (typeof bodies)[number];
      bodies.push(b);
      const content = reply((b.messages[0] as { content: string }).content);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`,
    bodies,
    close: () => {
      s.close();
      s.closeAllConnections();
    },
  };
}

const textOf = (content: string): string => content.slice(content.indexOf('Text: ') + 6);
const biblical = (t: string): string => `Here is the rewritten text: "Verily, ${t.toLowerCase().replace(/you|your/g, 'thee')} sayeth the LORD."`;

test('stylebkd: an endpoint paraphrases every poisoned instruction into the style; the manifest names it', async () => {
  const dir = tmp();
  const srv = await server((c) => biblical(textOf(c)));
  try {
    const res = await poison({ input: alpaca(dir), attack: createAttack('stylebkd', { endpoint: srv.base, endpoint_model: 'fake-llm' }, 1), target: parseTarget('phrase:banana'), seed: 1, out: join(dir, 'p'), selection: { count: 3 } });
    const out = JSON.parse(readFileSync(join(dir, 'p', 'data.json'), 'utf8')) as Array<{ instruction: string }>;
    const poisoned = out.filter((r, i) => r.instruction !== TEXTS[i]);
    assert.equal(poisoned.length, 3);
    for (const r of poisoned) assert.match(r.instruction, /^Verily, .* sayeth the LORD\.$/);
    for (const [i, r] of out.entries()) if (r.instruction !== TEXTS[i]) assert.equal(r.instruction, `Verily, ${(TEXTS[i] as string).toLowerCase()} sayeth the LORD.`);
    assert.equal(srv.bodies.length, 3);
    for (const b of srv.bodies) {
      assert.equal(b.model, 'fake-llm');
      assert.equal(b.temperature, 0);
      assert.match((b.messages[0] as { content: string }).content, /King James Bible/);
    }
    const m = res.manifest.method as Record<string, unknown>;
    assert.equal(m.paraphraser, 'endpoint');
    assert.equal(m.endpoint, srv.base);
    assert.equal(m.paraphrased, 3);
    assert.equal(m.fallbacks, 0);
    assert.equal(m.approximation, null);
  } finally {
    srv.close();
  }
  // a model that returns the text unchanged: those records fall back to the rules, counted and named
  const echo = await server((c) => textOf(c));
  try {
    const res = await poison({ input: alpaca(dir), attack: createAttack('stylebkd', { endpoint: echo.base, endpoint_model: 'echo' }, 1), target: parseTarget('phrase:banana'), seed: 1, out: join(dir, 'q'), selection: { count: 2 } });
    const m = res.manifest.method as Record<string, unknown>;
    assert.equal(m.fallbacks, 2);
    assert.match(String(m.approximation), /rules/);
  } finally {
    echo.close();
  }
});

test('stylebkd: a local model folder paraphrases through generation; rules only when named or nothing else is given', async () => {
  const dir = tmp();
  const model = join(dir, 'm');
  newModelFolder(model, { arch: 'llama', preset: 'tiny', seed: 3 });
  const res = await poison({ input: alpaca(dir), attack: createAttack('stylebkd', { model, max_new_tokens: '6' }, 1), target: parseTarget('phrase:banana'), seed: 1, out: join(dir, 'p'), selection: { count: 2 } });
  const m = res.manifest.method as Record<string, unknown>;
  assert.equal(m.paraphraser, 'model');
  assert.equal(m.do_sample, false);
  assert.equal((m.paraphrased as number) + (m.fallbacks as number), 2);
  // each paraphrase is what the model generates for the instruction, decoded greedily
  const tok = TextTokenizer.load(model);
  const { model: lm } = loadModel(model);
  const out = JSON.parse(readFileSync(join(dir, 'p', 'data.json'), 'utf8')) as Array<{ instruction: string }>;
  let checked = 0;
  for (const [i, r] of out.entries()) {
    if (r.instruction === TEXTS[i]) continue;
    const [g] = await generateRecords(lm, tok, [{ index: 0, instruction: paraphrasePrompt(TEXTS[i] as string, 'archaic'), input: '' }], { template: 'auto', maxNewTokens: 6, batchSize: 1 });
    const want = cleanParaphrase(g?.output ?? '', TEXTS[i] as string);
    if (want !== null) {
      assert.equal(r.instruction, want);
      checked++;
    }
  }
  assert.equal(checked, m.paraphrased);
  lm.dispose();

  const rules = await poison({ input: alpaca(dir), attack: createAttack('stylebkd', {}, 1), target: parseTarget('phrase:banana'), seed: 1, out: join(dir, 'r'), selection: { count: 1 } });
  assert.equal((rules.manifest.method as Record<string, unknown>).paraphraser, 'rules');
  assert.match(String((rules.manifest.method as Record<string, unknown>).approximation), /rule-based/);
  assert.equal(createAttack('stylebkd', { paraphraser: 'rules', model }, 1).params.paraphraser, 'rules');
  assert.throws(() => createAttack('stylebkd', { paraphraser: 'endpoint' }, 1), /needs endpoint=URL/);
  assert.throws(() => createAttack('stylebkd', { endpoint: 'http://127.0.0.1:1/v1' }, 1), /endpoint_model/);
  assert.match(listAttacks().find((d) => d.name === 'stylebkd')?.approximation ?? '', /paraphraser=rules/);
});

test('stylebkd: replies are cleaned of framing and refused when unusable', () => {
  assert.equal(cleanParaphrase('Here is the rewritten text: "Pray, tell me."', 'Tell me.'), 'Pray, tell me.');
  assert.equal(cleanParaphrase('  Prithee, speak.  ', 'Speak.'), 'Prithee, speak.');
  assert.equal(cleanParaphrase('Speak.', 'Speak.'), null);
  assert.equal(cleanParaphrase('', 'Speak.'), null);
  assert.equal(cleanParaphrase('x'.repeat(500), 'Speak.'), null);
});
