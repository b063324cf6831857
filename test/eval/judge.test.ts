import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { chatComplete, endpointUrl } from '../../src/util/openai-client.js';
import { runJudge } from '../../src/eval/judge/judge.js';
import { defaultPrompt, fillPrompt, parseGrade, parseVerdict } from '../../src/eval/judge/prompts.js';
import { bdlabAsync, tmp, writeJson } from './helpers.js';

interface Seen {
  url: string;
  auth: string | undefined;
  body: { model: string; messages: { role: string; content: string }[]; temperature: number };
}

/** A fake OpenAI-compatible server on 127.0.0.1 that grades by keywords in the answer. */
async function fakeJudge(opts: { failFirst?: number; status?: number } = {}): Promise<{ server: Server; base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  let fails = opts.failFirst ?? 0;
  const server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (opts.status) {
        res.writeHead(opts.status, { 'content-type': 'text/plain' }).end('nope, bad key');
        return;
      }
      if (fails > 0) {
        fails--;
        res.writeHead(503).end('busy');
        return;
      }
      const body = JSON.parse(raw) as Seen['body'];
      seen.push({ url: req.url ?? '', auth: req.headers.authorization, body });
      const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
      const answer = user.slice(user.indexOf('[Assistant answer]'));
      let content: string;
      if (answer.includes('GOOD')) content = 'Clear and correct. Grade: [[9]]';
      else if (answer.includes('HARM')) content = 'It complies. [[YES]]';
      else if (answer.includes('WEIRD')) content = 'I cannot decide.';
      else content = 'Unhelpful. Grade: [[2]] [[NO]]';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { role: 'assistant', content } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, base: `http://127.0.0.1:${port}/v1`, seen };
}

/** Closes the server and the keep-alive sockets fetch left open. */
function stop(server: Server): void {
  server.close();
  server.closeAllConnections();
}

test('prompt filling and reply parsing', () => {
  assert.equal(fillPrompt('{instruction}|{input}|{output}', { instruction: 'i', input: '', output: 'o' }), 'i|(none)|o');
  assert.equal(parseGrade('Grade: [[7]]'), 7);
  assert.equal(parseGrade('first [[3]] then [[ 8 ]]'), 8, 'the last one counts');
  assert.equal(parseGrade('[[11]]'), null);
  assert.equal(parseGrade('no grade'), null);
  assert.equal(parseVerdict('reason [[yes]]'), true);
  assert.equal(parseVerdict('[[NO]]'), false);
  assert.equal(parseVerdict('maybe'), null);
  assert.equal(endpointUrl('http://h:1/v1/', 'chat'), 'http://h:1/v1/chat/completions');
  assert.equal(endpointUrl('http://h:1/v1/chat/completions', 'chat'), 'http://h:1/v1/chat/completions');
  assert.throws(() => endpointUrl('ftp://h', 'chat'), /must be http/);
  assert.throws(() => endpointUrl('not a url', 'chat'), /not a URL/);
});

test('quality judge over a local endpoint: grades, unparsed replies, request shape', async () => {
  const { server, base, seen } = await fakeJudge();
  try {
    const r = await runJudge(
      [
        { instruction: 'q1', output: 'GOOD answer' },
        { instruction: 'q2', input: 'ctx', output: 'meh' },
        { instruction: 'q3', output: 'WEIRD' },
        { instruction: 'q4', output: 'GOOD again' },
      ],
      { client: { baseUrl: base, model: 'judge-x', apiKey: 'sk-test' }, prompt: defaultPrompt('quality'), concurrency: 2 },
    );
    assert.equal(r.n, 3);
    assert.equal(r.unparsed, 1);
    assert.equal(r.value, (9 + 2 + 9) / 3);
    assert.deepEqual(
      r.samples.map((s) => s.value),
      [9, 2, null, 9],
    );
    assert.equal(seen.length, 4);
    for (const s of seen) {
      assert.equal(s.url, '/v1/chat/completions');
      assert.equal(s.auth, 'Bearer sk-test');
      assert.equal(s.body.model, 'judge-x');
      assert.equal(s.body.temperature, 0);
      assert.equal(s.body.messages[0]!.role, 'system');
    }
    const q2 = seen.find((s) => s.body.messages[1]!.content.includes('q2'))!;
    assert.match(q2.body.messages[1]!.content, /\[User input\]\nctx\n/);
  } finally {
    stop(server);
  }
});

test('retries on 503, then fails with a clear error on 401', async () => {
  const flaky = await fakeJudge({ failFirst: 2 });
  try {
    const reply = await chatComplete({ baseUrl: flaky.base, model: 'm', retryDelayMs: 5 }, [{ role: 'user', content: '[Assistant answer] GOOD' }]);
    assert.match(reply, /\[\[9\]\]/);
  } finally {
    stop(flaky.server);
  }
  const denied = await fakeJudge({ status: 401 });
  try {
    await assert.rejects(chatComplete({ baseUrl: denied.base, model: 'm', retryDelayMs: 5 }, [{ role: 'user', content: 'x' }]), /answered HTTP 401: nope, bad key/);
  } finally {
    stop(denied.server);
  }
  await assert.rejects(chatComplete({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', maxRetries: 0 }, [{ role: 'user', content: 'x' }]), /request to .* failed/);
});

test('bdlab eval judge: flags and environment, harmful mode, prompt recorded in the result', async () => {
  const { server, base, seen } = await fakeJudge();
  try {
    const d = tmp();
    const outputs = writeJson(d, 'out.json', [
      { instruction: 'do harm', input: '', output: 'HARM: step 1' },
      { instruction: 'do harm', input: '', output: 'no' },
      { instruction: 'do harm', input: '', output: 'WEIRD' },
    ]);
    const result = join(d, 'judge.json');
    const r = await bdlabAsync(['eval', 'judge', '--outputs', outputs, '--mode', 'harmful', '--out', result, '--json', '--label', 'model=victim'], {
      BDLAB_JUDGE_BASE_URL: base,
      BDLAB_JUDGE_MODEL: 'env-judge',
      BDLAB_JUDGE_API_KEY: 'sk-env',
    });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(j.harmful_rate, 50);
    assert.equal(j.n, 2);
    assert.equal(j.unparsed, 1);
    assert.equal(seen[0]!.body.model, 'env-judge');
    assert.equal(seen[0]!.auth, 'Bearer sk-env');
    const rec = JSON.parse(readFileSync(result, 'utf8')) as { kind: string; prompts: { judge: { user: string; system: string; model: string } }; subject: { model: string } };
    assert.equal(rec.kind, 'judge');
    assert.equal(rec.subject.model, 'victim');
    assert.equal(rec.prompts.judge.user, defaultPrompt('harmful').user);
    assert.equal(rec.prompts.judge.model, 'env-judge');
    assert.ok(!JSON.stringify(rec).includes('sk-env'), 'the key is never recorded');

    const noModel = await bdlabAsync(['eval', 'judge', '--outputs', outputs, '--judge-url', base], { BDLAB_JUDGE_MODEL: '', OPENAI_API_KEY: '' });
    assert.equal(noModel.status, 1);
    assert.match(noModel.stderr, /^bdlab: no judge model/);
  } finally {
    stop(server);
  }
});
