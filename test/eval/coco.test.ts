import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateCaptionFiles, evaluateCaptions, evaluateTokenized, parsePredictions, parseReferences } from '../../src/eval/caption/coco.js';
import { tmp, writeJson } from './helpers.js';

test('raw captions are tokenised the coco-caption way before scoring', () => {
  const raw = evaluateCaptions(
    ['A man riding a WAVE, on a surfboard.', "It's a dog (brown)."],
    [['A man riding a wave on a surfboard!', 'A surfer rides a wave.'], ["it's a dog -LRB- brown -RRB-", 'A brown dog.']],
  );
  const tok = evaluateTokenized(
    [
      ['a', 'man', 'riding', 'a', 'wave', 'on', 'a', 'surfboard'],
      ['it', "'s", 'a', 'dog', '-lrb-', 'brown', '-rrb-'],
    ],
    [
      [
        ['a', 'man', 'riding', 'a', 'wave', 'on', 'a', 'surfboard'],
        ['a', 'surfer', 'rides', 'a', 'wave'],
      ],
      [
        ['it', "'s", 'a', 'dog', '-lrb-', 'brown', '-rrb-'],
        ['a', 'brown', 'dog'],
      ],
    ],
  );
  assert.deepEqual(raw.scores, tok.scores);
  assert.equal(raw.scores.n, 2);
  assert.ok(raw.scores.CIDEr > 0 && raw.scores['ROUGE-L'] === 1);
});

test('COCO files: images scored are those with a prediction', () => {
  const d = tmp();
  const pred = writeJson(d, 'pred.json', [
    { image_id: 1, caption: 'a b' },
    { image_id: 2, caption: 'c d' },
  ]);
  const refs = writeJson(d, 'refs.json', {
    info: {},
    images: [{ id: 1 }, { id: 2 }, { id: 3 }],
    annotations: [
      { image_id: 1, id: 10, caption: 'a b' },
      { image_id: 2, id: 11, caption: 'e f' },
      { image_id: 3, id: 12, caption: 'unused' },
    ],
  });
  const ev = evaluateCaptionFiles(pred, refs);
  assert.equal(ev.scores.n, 2);
  assert.ok(Math.abs(ev.scores.CIDEr - 2.5) < 1e-12);
  assert.equal(ev.annotationCount, 3);
});

test('malformed predictions name the file, the record and the field', () => {
  const p = 'pred.json';
  assert.throws(() => parsePredictions({ a: 1 }, p), /^UserError: pred\.json: expected a JSON array/);
  assert.throws(() => parsePredictions([], p), /pred\.json: no predictions/);
  assert.throws(() => parsePredictions([{ image_id: 1, caption: 'x' }, 5], p), /pred\.json: record 1: expected an object, got number/);
  assert.throws(() => parsePredictions([{ caption: 'x' }], p), /pred\.json: record 0: missing field "image_id"/);
  assert.throws(() => parsePredictions([{ image_id: 1, caption: 3 }], p), /pred\.json: record 0: field "caption" must be a string, got number/);
  assert.throws(() => parsePredictions([{ image_id: [1], caption: 'x' }], p), /record 0: field "image_id" must be a number or a non-empty string, got array/);
  assert.throws(
    () =>
      parsePredictions(
        [
          { image_id: 7, caption: 'x' },
          { image_id: 8, caption: 'y' },
          { image_id: 7, caption: 'z' },
        ],
        p,
      ),
    /pred\.json: record 2: second prediction for image_id 7 \(first at record 0\)/,
  );
  // 7 and "7" are different images, as Python dict keys are
  assert.equal(
    parsePredictions(
      [
        { image_id: 7, caption: 'x' },
        { image_id: '7', caption: 'y' },
      ],
      p,
    ).length,
    2,
  );
});

test('malformed references name the file, the annotation and the field', () => {
  const r = 'refs.json';
  assert.throws(() => parseReferences({ images: [] }, r), /refs\.json: missing field "annotations"/);
  assert.throws(() => parseReferences({ annotations: {} }, r), /refs\.json: field "annotations" must be an array, got object/);
  assert.throws(() => parseReferences({ annotations: [{ image_id: 1, caption: 'a' }, { image_id: 1 }] }, r), /refs\.json: annotations\[1\]: missing field "caption"/);
  assert.throws(() => parseReferences({ annotations: [{ image_id: null, caption: 'a' }] }, r), /refs\.json: annotations\[0\]: field "image_id" must be a number or a non-empty string, got null/);
  assert.throws(() => parseReferences({ annotations: [] }, r), /refs\.json: no reference captions/);
  assert.equal(parseReferences([{ image_id: 1, caption: 'a' }], r).size, 1, 'a bare array of annotations is accepted');
});

test('a prediction without references, and files that are not JSON', () => {
  const d = tmp();
  const pred = writeJson(d, 'pred.json', [
    { image_id: 1, caption: 'a' },
    { image_id: 9, caption: 'b' },
  ]);
  const refs = writeJson(d, 'refs.json', { annotations: [{ image_id: 1, caption: 'a' }] });
  assert.throws(() => evaluateCaptionFiles(pred, refs), new RegExp(`${pred}: record 1: image_id 9 has no reference captions in ${refs}`));
  const bad = writeJson(d, 'bad.json', '[{"image_id": 1,\n "caption": "a",}]');
  assert.throws(() => evaluateCaptionFiles(bad, refs), new RegExp(`${bad}: not valid JSON at line 2`));
  assert.throws(() => evaluateCaptionFiles(`${d}/missing.json`, refs), /missing\.json: cannot read: no such file/);
});

test('image ids keep their type: 1 and "1" are two images, as in COCO (Python dict keys)', () => {
  const preds = parsePredictions([{ image_id: 1, caption: 'a' }, { image_id: '1', caption: 'b' }], 'p.json');
  assert.equal(preds.length, 2, 'no "second prediction" error');
  const refs = parseReferences({ annotations: [{ image_id: 1, caption: 'x' }, { image_id: '1', caption: 'y' }, { image_id: 1, caption: 'z' }] }, 'r.json');
  assert.deepEqual(refs.get(1), ['x', 'z']);
  assert.deepEqual(refs.get('1'), ['y']);
  assert.throws(() => parsePredictions([{ image_id: 2, caption: 'a' }, { image_id: 2, caption: 'b' }], 'p.json'), /record 1: second prediction for image_id 2/);
});
