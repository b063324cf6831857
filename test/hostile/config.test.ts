// Hostile config.json and preprocessor_config.json values: each is refused
// with one line naming the file and the field, before anything the size
// depends on is allocated, within seconds and under 1 GB.
import { test } from 'node:test';
import { join } from 'node:path';
import sharp from 'sharp';
import { assertRefused, bdlabCapped } from './harness.js';
import { baseFolders, variant, type Json } from './models.js';

const { llama, llava } = baseFolders();
const inspect = (dir: string): ReturnType<typeof bdlabCapped> => bdlabCapped(['inspect', '--model', dir, '--ids', '1,2,3', '--json']);

const cases: Array<[string, (j: Json) => void, RegExp]> = [
  ['num_hidden_layers 1000000 (more layers than the weights hold)', (j) => (j.num_hidden_layers = 1_000_000), /config\.json.*num_hidden_layers/],
  ['vocab_size 1e9', (j) => (j.vocab_size = 1e9), /config\.json.*vocab_size/],
  ['intermediate_size 1e12', (j) => (j.intermediate_size = 1e12), /config\.json.*intermediate_size/],
  ['max_position_embeddings 1e15', (j) => (j.max_position_embeddings = 1e15), /config\.json.*max_position_embeddings/],
  ['hidden_size that does not match the weights', (j) => (j.hidden_size = 4096), /config\.json.*hidden_size/],
  ['head_dim x num_attention_heads against hidden_size', (j) => ((j.head_dim = 100_000), (j.num_attention_heads = 4)), /config\.json.*head_dim/],
  ['rope_theta 0', (j) => (j.rope_theta = 0), /config\.json.*rope_theta/],
  ['rope_theta negative', (j) => (j.rope_theta = -10000), /config\.json.*rope_theta/],
  ['rms_norm_eps -1', (j) => (j.rms_norm_eps = -1), /config\.json.*rms_norm_eps/],
  ['linear rope factor 0', (j) => (j.rope_scaling = { rope_type: 'linear', factor: 0 }), /config\.json.*factor/],
  ['llama3 rope with high_freq_factor = low_freq_factor', (j) => (j.rope_scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 4, original_max_position_embeddings: 512 }), /config\.json.*high_freq_factor/],
];

for (const [name, edit, pattern] of cases) {
  test(`config.json ${name}: refused by field`, async () => {
    assertRefused(await inspect(variant(llama, 'cfg', edit)), pattern);
  });
}

test('llava text_config vocab_size 1e9: refused by field', async () => {
  const dir = variant(llava, 'llava-vocab', (j) => ((j.text_config as Json).vocab_size = 1e9));
  assertRefused(await inspect(dir), /text_config.*vocab_size/);
});

test('llava vision_config image_size 1e6: refused by field', async () => {
  const dir = variant(llava, 'llava-img', (j) => ((j.vision_config as Json).image_size = 1_000_000));
  assertRefused(await inspect(dir), /vision_config.*image_size/);
});

const imagePath = async (dir: string): Promise<string> => {
  const p = join(dir, 'img.png');
  await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toFile(p);
  return p;
};

const processorCases: Array<[string, (j: Json) => void, RegExp]> = [
  ['shortest_edge 60000', (j) => (j.size = { shortest_edge: 60_000 }), /preprocessor_config\.json.*shortest_edge/],
  ['crop_size larger than the vision tower takes', (j) => (j.crop_size = { height: 20_000, width: 20_000 }), /preprocessor_config\.json.*crop_size/],
  ['image_std 0', (j) => (j.image_std = [0, 0.5, 0.5]), /preprocessor_config\.json.*image_std/],
  ['rescale_factor NaN-like string', (j) => (j.rescale_factor = 'x'), /preprocessor_config\.json.*rescale_factor/],
];

for (const [name, edit, pattern] of processorCases) {
  test(`preprocessor_config.json ${name}: refused by field`, async () => {
    const dir = variant(llava, 'proc', edit, 'preprocessor_config.json');
    const img = await imagePath(dir);
    const r = await bdlabCapped(['inspect', '--model', dir, '--text', 'describe', '--image', img, '--json']);
    assertRefused(r, pattern);
  });
}
