// Where the real BackdoorLLM/CROW data sets are (../shared/data beside the
// repository, see DEVELOPERS.md). Tests that read them are skipped, with this
// reason, on a checkout that has no copy; everything else runs everywhere.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run from dist/test). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const candidates = [
  process.env.BDLAB_SHARED_DATA,
  join(ROOT, '..', 'shared', 'data'),
  join(ROOT, 'shared', 'data'),
].filter((p): p is string => typeof p === 'string' && p !== '');

const found = candidates.map((d) => join(d, 'backdoorllm')).find((d) => existsSync(join(d, 'test_data')));

/** The BackdoorLLM folder (poison_data/, test_data/, consistency_data/), when present. */
export const BACKDOORLLM: string = found ?? join(candidates[0] ?? ROOT, 'backdoorllm');

/** `{ skip }` for node:test: false when the data is here, else the reason. */
export const skipWithoutBackdoorLLM: string | false = found
  ? false
  : `BackdoorLLM data not found (looked in ${candidates.join(', ')}; set BDLAB_SHARED_DATA)`;
