// Generation through an OpenAI-compatible endpoint, against a local server
// that answers 429 and 5xx, stalls past the timeout, sends malformed JSON
// and oversized replies: every record still gets its answer, in input order;
// Retry-After is waited for; a record the server refuses stops the run with
// one line and the finished records are kept for the re-run; an unreachable
// server is one line within the retry budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { newModelFolder } from '../../src/models/presets.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { renderPrompt, userMessage } from '../../src/models/prompt.js';
import { journalPath, readJournal } from '../../src/generation/journal.js';
import { generateToFile, type EndpointBackend } from '../../src/generation/run.js';
import { readGenerationInput, type GenerationRecord } from '../../src/generation/input.js';
import { textComplete } from '../../src/util/openai-client.js';
import { alpacaRecords, bdlabSpawn, oneLine, tempDir, writeJson } from './helpers.js';

const t = tempDir('endpoint');
process.on('exit', t.cleanup);
const modelDir = join(t.dir, 'llama');
newModelFolder(modelDir, { arch: 'llama', preset: 'tiny', seed: 2 });
const tok = TextTokenizer.load(modelDir);

interface Req {
  n: number;
  url: string;
  body: { model: string; prompt?: string; messages?: Array<{ role: string; content: unknown }>; max_tokens: number; temperature: number; seed?: number };
  at: number;
}

/** What the fake server does with request n: answer, or misbehave. */
type Plan = 'ok' | { status: number; retryAfter?: string; body?: string } | { stallMs: number } | 'malformed' | { bytes: number; chunked?: boolean };

/** The server's deterministic answer to a prompt. */
const answerTo = (prompt: string): string => ` answer-${createHash('sha256').update(prompt).digest('hex').slice(0, 8)} `;

async function fakeServer(plan: (r: Req) => Plan): Promise<{ base: string; seen: Req[]; stop: () => void }> {
  const seen: Req[] = [];
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const r: Req = { n: ++n, url: req.url ?? '', body: JSON.parse(raw) as Req['body'], at: Date.now() };
      seen.push(r);
      const p = plan(r);
      if (p === 'malformed') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [{"text": "cut');
      if (typeof p === 'object' && 'status' in p) {
        return void res.writeHead(p.status, p.retryAfter !== undefined ? { 'retry-after': p.retryAfter } : {}).end(p.body ?? `status ${p.status}`);
      }
      if (typeof p === 'object' && 'bytes' in p) {
        const big = 'x'.repeat(p.bytes);
        if (!p.chunked) return void res.writeHead(200, { 'content-length': String(big.length) }).end(big);
        res.writeHead(200);
        for (let i = 0; i < big.length; i += 65536) res.write(big.slice(i, i + 65536));
        return void res.end();
      }
      const send = (): void => {
        const prompt = r.body.prompt ?? JSON.stringify(r.body.messages);
        const text = answerTo(prompt);
        const choice = r.body.messages ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' } : { index: 0, text, finish_reason: 'length' };
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [choice], usage: { completion_tokens: 3 } }));
      };
      if (typeof p === 'object' && 'stallMs' in p) setTimeout(send, p.stallMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}/v1`,
    seen,
    stop: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

const records: GenerationRecord[] = alpacaRecords(12).map((r, index) => ({ index, id: r.id, instruction: r.instruction, input: r.input }));

/** Endpoint settings for the tests: short back-off; the timeout is short against the 5 s stall yet long for a loaded machine. */
function backend(base: string, over: Partial<EndpointBackend> = {}, client: Partial<EndpointBackend['endpoint']> = {}): EndpointBackend {
  return {
    kind: 'endpoint',
    api: 'completions',
    tokenizerDir: modelDir,
    concurrency: 3,
    ...over,
    endpoint: { baseUrl: base, model: 'served-model', timeoutMs: 2000, maxRetries: 6, retryDelayMs: 5, maxDelayMs: 20, ...client },
  };
}

test('429, 500, 503, a stalled reply and malformed JSON are retried; every record answered in order', async () => {
  const misbehave: Record<number, Plan> = { 1: { status: 429, retryAfter: '0' }, 3: { status: 500 }, 5: { stallMs: 5000 }, 7: 'malformed', 9: { status: 503 } };
  const srv = await fakeServer((r) => misbehave[r.n] ?? 'ok');
  try {
    const out = join(t.dir, 'flaky.json');
    const s = await generateToFile({ records, backend: backend(srv.base), template: 'auto', maxNewTokens: 16, out, progress: false });
    assert.deepEqual([s.records, s.generated, s.backend, s.template], [12, 12, 'endpoint', 'chat']);
    const recs = JSON.parse(readFileSync(out, 'utf8')) as Array<{ id: number; output: string; new_tokens: number; finish_reason: string }>;
    records.forEach((r, i) => {
      // the chat template's text, less the BOS it writes (the server adds its own)
      const prompt = renderPrompt(tok, r);
      assert.ok(prompt.startsWith('<s>'));
      assert.equal(recs[i]?.id, r.id);
      assert.equal(recs[i]?.output, answerTo(prompt.slice(3)));
      assert.equal(recs[i]?.new_tokens, 3);
      assert.equal(recs[i]?.finish_reason, 'length');
    });
    // at least one retry per misbehaving reply (a loaded machine may time out more)
    assert.ok(srv.seen.length >= 12 + 5, `${srv.seen.length} requests`);
    for (const n of [1, 3, 5, 7, 9]) {
      const p = srv.seen[n - 1]?.body.prompt;
      assert.ok(srv.seen.slice(n).some((r) => r.body.prompt === p), `request ${n} was retried`);
    }
    for (const r of srv.seen) {
      assert.equal(r.url, '/v1/completions');
      assert.deepEqual([r.body.model, r.body.max_tokens, r.body.temperature, r.body.seed], ['served-model', 16, 0, undefined]);
    }
    assert.ok(!existsSync(journalPath(out)));
  } finally {
    srv.stop();
  }
});

test('Retry-After is waited for; oversized replies are refused, with or without a length header', async () => {
  const srv = await fakeServer((r) => (r.n === 1 ? { status: 429, retryAfter: '1' } : r.n === 3 ? { bytes: 300_000 } : r.n === 4 ? { bytes: 300_000, chunked: true } : 'ok'));
  try {
    const o = { baseUrl: srv.base, model: 'm', retryDelayMs: 1, maxRetries: 2, maxResponseBytes: 100_000 };
    const c = await textComplete(o, 'hello');
    assert.equal(c.text, answerTo('hello'));
    const gap = (srv.seen[1]?.at ?? 0) - (srv.seen[0]?.at ?? 0);
    assert.ok(gap >= 950, `retried after ${gap} ms; the server asked for 1 s`);
    await assert.rejects(textComplete(o, 'big'), /is 300000 bytes, more than the limit of 100000/);
    await assert.rejects(textComplete(o, 'big'), /exceeds the limit of 100000 bytes/);
    assert.equal(srv.seen.length, 4, 'size refusals are not retried');
  } finally {
    srv.stop();
  }
});

test('a record the server refuses stops the run with one error; finished records are kept and not asked again', async () => {
  let healthy = false;
  const srv = await fakeServer((r) => (!healthy && (r.body.prompt ?? '').includes('#3') ? { status: 400, body: 'context length exceeded' } : 'ok'));
  try {
    const out = join(t.dir, 'refused.json');
    const job = { records, backend: backend(srv.base, { concurrency: 1 }, { timeoutMs: 60_000 }), template: 'alpaca' as const, maxNewTokens: 8, out, progress: false };
    await assert.rejects(generateToFile(job), (e: Error) => {
      assert.match(e.message, /endpoint http:\/\/127\.0\.0\.1:\d+\/v1\/completions answered HTTP 400: context length exceeded — 3 finished record\(s\) are kept in .*refused\.json\.partial\.jsonl; run the same command again/);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
    assert.equal(srv.seen.length, 4, 'no request after the refusal');
    assert.equal(readJournal(journalPath(out))?.entries.length, 3);
    assert.ok(!existsSync(out));
    healthy = true;
    const s = await generateToFile(job);
    assert.deepEqual([s.generated, s.resumed], [9, 3]);
    assert.equal(srv.seen.length, 4 + 9);
    const recs = JSON.parse(readFileSync(out, 'utf8')) as Array<{ output: string; template: string }>;
    assert.ok(recs.every((r) => r.template === 'alpaca'));
  } finally {
    srv.stop();
  }
});

test('bdlab generate --endpoint: chat API and backdoorllm prompts; an unreachable server is one line', async () => {
  const srv = await fakeServer(() => 'ok');
  try {
    const input = writeJson(join(t.dir, 'ep-in.json'), alpacaRecords(3));
    const chatOut = join(t.dir, 'chat.json');
    const chat = await bdlabSpawn(['generate', '--endpoint', srv.base, '--endpoint-api', 'chat', '--endpoint-model', 'srv', '--system', 'Be brief.', '--input', input, '--out', chatOut, '--json']).done;
    assert.equal(chat.status, 0, chat.stderr);
    const sent = srv.seen.map((r) => r.body.messages);
    assert.deepEqual(sent[0], [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: userMessage(alpacaRecords(3)[0] ?? { instruction: '' }) },
    ]);
    const recs = JSON.parse(readFileSync(chatOut, 'utf8')) as Array<{ output: string; template: string; finish_reason: string }>;
    assert.deepEqual(
      recs.map((r) => [r.template, r.finish_reason]),
      [
        ['chat', 'stop'],
        ['chat', 'stop'],
        ['chat', 'stop'],
      ],
    );

    const bOut = join(t.dir, 'bllm.json');
    const b = await bdlabSpawn(['generate', '--endpoint', srv.base, '--endpoint-model', 'srv', '--template', 'backdoorllm', '--input', input, '--out', bOut]).done;
    assert.equal(b.status, 0, b.stderr);
    const prompts = srv.seen.slice(3).map((r) => r.body.prompt);
    assert.deepEqual(
      prompts,
      alpacaRecords(3).map((r) => r.instruction),
      'the bare instruction',
    );
    const bRecs = JSON.parse(readFileSync(bOut, 'utf8')) as Array<{ output: string }>;
    assert.deepEqual(
      bRecs.map((r) => r.output),
      alpacaRecords(3).map((r) => answerTo(r.instruction).trim()),
    );

    const refused = await bdlabSpawn(['generate', '--endpoint', srv.base, '--endpoint-api', 'chat', '--endpoint-model', 'srv', '--template', 'alpaca', '--input', input, '--out', join(t.dir, 'x.json')]).done;
    assert.match(oneLine(refused.stderr), /the alpaca template needs --endpoint-api completions/);
  } finally {
    srv.stop();
  }
  // a port nobody listens on
  const closed = await fakeServer(() => 'ok');
  closed.stop();
  const out = join(t.dir, 'down.json');
  const down = await bdlabSpawn(['generate', '--endpoint', closed.base, '--endpoint-model', 'm', '--template', 'alpaca', '--prompt', 'hi', '--out', out, '--retries', '1', '--timeout', '2']).done;
  assert.equal(down.status, 1);
  assert.match(oneLine(down.stderr), /^bdlab: endpoint request to http:\/\/127\.0\.0\.1:\d+\/v1\/completions failed: .*\(after 2 attempts\)$/);
});

test('an image goes to a chat API as a data URL where its placeholder was; the completions API refuses it', async () => {
  const srv = await fakeServer(() => 'ok');
  try {
    const png = join(t.dir, 'red.png');
    await sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toFile(png);
    const input = writeJson(join(t.dir, 'lv.json'), [
      { id: 'a', image: 'red.png', conversations: [{ from: 'human', value: '<image>\nWhat colour?' }] },
      { id: 'b', image: 'red.png', conversations: [{ from: 'human', value: 'Describe it.\n<image>' }] },
    ]);
    const { records: recs } = readGenerationInput(input);
    const out = join(t.dir, 'lv-out.json');
    const s = await generateToFile({ records: recs, backend: backend(srv.base, { api: 'chat', tokenizerDir: undefined, concurrency: 1 }), template: 'auto', out, progress: false });
    assert.equal(s.generated, 2);
    const url = `data:image/png;base64,${readFileSync(png).toString('base64')}`;
    assert.deepEqual(srv.seen[0]?.body.messages, [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url } },
          { type: 'text', text: 'What colour?' },
        ],
      },
    ]);
    assert.deepEqual(srv.seen[1]?.body.messages?.[0]?.content, [
      { type: 'text', text: 'Describe it.' },
      { type: 'image_url', image_url: { url } },
    ]);
    const written = JSON.parse(readFileSync(out, 'utf8')) as Array<{ image: string; template: string }>;
    assert.deepEqual(
      written.map((r) => [r.image, r.template]),
      [
        ['red.png', 'chat'],
        ['red.png', 'chat'],
      ],
    );
    await assert.rejects(
      generateToFile({ records: recs, backend: backend(srv.base, { api: 'completions' }), template: 'alpaca', out: join(t.dir, 'lv2.json'), progress: false }),
      /record 0 has an image: images go to an endpoint through --endpoint-api chat$/,
    );
    assert.ok(!existsSync(journalPath(join(t.dir, 'lv2.json'))), 'no journal from a run that generated nothing');
  } finally {
    srv.stop();
  }
});
