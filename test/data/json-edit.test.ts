import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editJson, findValue, rawValue } from '../../src/data/json-edit.js';
import { JsonRaw, exactNumber, stringifyJson } from '../../src/data/json-text.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

test('editJson replaces only the value at the path; every other byte stays', () => {
  const src = b('{ "id": 12345678901234567890123, "a" : "x",\n  "list": [1.0, {"value": "old"}, -0.0], "n": 1e400 }');
  const out = editJson(src, [
    { path: ['a'], value: 'new "quoted"' },
    { path: ['list', 1, 'value'], value: 'é' },
  ]);
  assert.equal(out.toString(), '{ "id": 12345678901234567890123, "a" : "new \\"quoted\\"",\n  "list": [1.0, {"value": "é"}, -0.0], "n": 1e400 }');
  assert.equal(rawValue(src, ['id']), '12345678901234567890123');
  assert.equal(rawValue(src, ['list', 2]), '-0.0');
  assert.equal(rawValue(src, ['missing']), null);
});

test('a missing member is added after the last one; duplicate names resolve to the last (as JSON.parse); escaped names match', () => {
  assert.equal(editJson(b('{"a": 1}'), [{ path: ['input'], value: '' }]).toString(), '{"a": 1, "input": ""}');
  assert.equal(editJson(b('{ }'), [{ path: ['k'], value: 2 }]).toString(), '{"k": 2 }');
  const dup = b('{"x": "first", "x": "second"}');
  assert.equal(JSON.parse(dup.toString()).x, 'second');
  assert.equal(editJson(dup, [{ path: ['x'], value: 'new' }]).toString(), '{"x": "first", "x": "new"}');
  assert.equal(editJson(b('{"instr\\u0075ction": "a"}'), [{ path: ['instruction'], value: 'b' }]).toString(), '{"instr\\u0075ction": "b"}');
  // strings with escaped quotes and backslashes before the value are skipped correctly
  const tricky = b('{"p": "a\\\\", "q": "b\\"}", "r": "c"}');
  assert.equal(JSON.parse(editJson(tricky, [{ path: ['r'], value: 'Z' }]).toString()).r, 'Z');
  assert.equal(rawValue(tricky, ['q']), '"b\\"}"');
  assert.equal(findValue(tricky, ['p'])?.start, 6);
});

test('bytes outside the edit survive even when they are not valid UTF-8; deep nesting costs no stack', () => {
  const raw = Buffer.concat([b('{"bad": "'), Buffer.from([0xff, 0xfe]), b('", "t": "x"}')]);
  const out = editJson(raw, [{ path: ['t'], value: 'y' }]);
  assert.ok(out.subarray(0, 12).equals(raw.subarray(0, 12)));
  assert.ok(out.toString('latin1').endsWith('"t": "y"}'));
  const deep = b(`{"deep": ${'['.repeat(200_000)}${']'.repeat(200_000)}, "t": "x"}`);
  assert.ok(editJson(deep, [{ path: ['t'], value: 'y' }]).toString().endsWith('"t": "y"}'));
});

test('stringifyJson writes exact number texts where a JavaScript number would change them', () => {
  assert.equal(stringifyJson({ ids: [new JsonRaw('12345678901234567890123'), 5, 'a'] }), '{"ids":[12345678901234567890123,5,"a"]}');
  assert.equal(stringifyJson({ a: [new JsonRaw('1.0')] }, 2), '{\n  "a": [\n    1.0\n  ]\n}');
  assert.equal(exactNumber(5, '5'), 5);
  assert.deepEqual(exactNumber(1, '1.0'), new JsonRaw('1.0'));
  // a string that looks like the internal marker is still a string
  assert.equal(stringifyJson({ s: '\u0000bdlab-raw:0' }), '{"s":"\\u0000bdlab-raw:0"}');
});
