// bench:poison — the `bdlab poison` process against what a BackdoorBench user runs instead: a
// PIL + numpy loop in one Python process (bench/poison_ref.py, /usr/bin/python3), on the same
// 224×224 JPEG and PNG files, in the same run, for BadNets, Blended and SIG (every image
// poisoned, same output quality settings). Both sides are timed as whole processes (wall
// clock and CPU time, through bash's `time`), alternating over rounds, best round kept; each
// writes a fresh folder, and nothing is deleted until the end (see setAside).
// Then the dataset reader: the streaming scanner (src/data/json-stream.ts) against JSON.parse
// of the whole file on a 50,000-record Alpaca file, and text poisoning of that file as a
// process. Last stdout line: one JSON object of named figures (ours / reference, above 1 is
// better for ours).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeImage } from '../src/data/image-io.js';
import { synthScene } from '../src/data/synthetic.js';
import { scanJson } from '../src/data/json-stream.js';
import { JsonArrayWriter } from '../src/data/writer.js';
import { Rng } from '../src/util/rng.js';
import { processEnv, round } from './common.js';

const N = Number(process.env.BENCH_N ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ATTACKS = (process.env.BENCH_ATTACKS ?? 'badnets,blended,sig').split(',');
const FORMATS = (process.env.BENCH_FORMATS ?? 'jpeg,png').split(',') as Fmt[];
const run = processEnv({ BDLAB_PROGRESS: '0' });
const PY = '/usr/bin/python3';
const root = mkdtempSync(join(tmpdir(), 'bdlab-bench-poison-'));
const repo = join(import.meta.dirname, '..', '..');
const log = (s: string): void => void process.stderr.write(s + '\n');

type Fmt = 'jpeg' | 'png';
const extOf = (f: Fmt): string => (f === 'png' ? 'png' : 'jpg');

interface Timing {
  wall: number;
  cpu: number;
  stdout: string;
}

/** Runs a command as a process; wall and CPU seconds (user + system, children included) from bash's `time`. */
function timed(argv: string[]): Timing {
  // dirty pages of the previous round (thousands of files written and removed) are flushed first,
  // so that neither side pays for the other's write-back
  spawnSync('sync');
  const err = join(root, 'stderr.txt');
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="@@time %R %U %S"; { time "$@" 2>"$BENCH_ERR"; } 2>&1', 'bash', ...argv], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...run.env, BENCH_ERR: err },
  });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${readFileSync(err, 'utf8').slice(-2000)}`);
  const lines = r.stdout.trim().split('\n');
  const t = (lines.pop() ?? '').split(' ');
  if (t[0] !== '@@time') throw new Error(`no timing from ${argv[0]}`);
  return { wall: Number(t[1]), cpu: Number(t[2]) + Number(t[3]), stdout: lines.join('\n') };
}

/** N seeded scenes as files img/<i>.<ext> and a LLaVA dataset over them. */
async function makeDataset(fmt: Fmt): Promise<string> {
  const dir = join(root, `ds-${fmt}`);
  mkdirSync(join(dir, 'img'), { recursive: true });
  const recs = [];
  const ext = extOf(fmt);
  for (let i = 0; i < N; i++) {
    writeFileSync(join(dir, 'img', `${i}.${ext}`), await encodeImage(synthScene(224, 224, 2024, i), fmt, { jpegQuality: 90, pngCompression: 6 }));
    recs.push({ id: i, image: `img/${i}.${ext}`, conversations: [{ from: 'human', value: '<image>\nWhat is in the picture?' }, { from: 'gpt', value: 'Some shapes on a gradient.' }] });
  }
  writeFileSync(join(dir, 'data.json'), JSON.stringify(recs));
  return dir;
}

/**
 * Moves a finished output out of the way; everything is deleted at the end. On ext4 without a
 * journal (this kind of virtual machine's disk), creating files within minutes of deleting
 * thousands costs several times more (the kernel skips recently freed inodes one by one), so a
 * deletion between timed runs would charge the next run, whichever side it is, for the previous one.
 */
let setAsideCount = 0;
function setAside(path: string): void {
  if (!existsSync(path)) return;
  mkdirSync(join(root, 'set-aside'), { recursive: true });
  renameSync(path, join(root, 'set-aside', String(setAsideCount++)));
}

function ours(attack: string, ds: string): Timing {
  const out = join(root, 'out-ours');
  setAside(out);
  const t = timed([process.execPath, join(repo, 'bin', 'bdlab.js'), 'poison', '--input', join(ds, 'data.json'), '--attack', attack, '--count', String(N), '--target', 'phrase:banana', '--seed', '1', '--out', out, '--json']);
  setAside(out);
  return t;
}

function pil(attack: string, ds: string, fmt: Fmt): Timing {
  const out = join(root, 'out-pil');
  setAside(out);
  const t = timed([PY, join(repo, 'bench', 'poison_ref.py'), attack, join(ds, 'img'), extOf(fmt), out, String(N)]);
  setAside(out);
  return t;
}

const geomean = (xs: number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

/** Streaming scanner + JSON.parse per record against JSON.parse of the whole file, seconds (best of rounds). */
function readerBench(file: string): { stream: number; whole: number } {
  let stream = Infinity;
  let whole = Infinity;
  for (let r = 0; r < ROUNDS + 1; r++) {
    let t = performance.now();
    let n = 0;
    for (const item of scanJson(file)) {
      JSON.parse(item.text);
      n++;
    }
    stream = Math.min(stream, (performance.now() - t) / 1000);
    t = performance.now();
    const all = JSON.parse(readFileSync(file, 'utf8')) as unknown[];
    whole = Math.min(whole, (performance.now() - t) / 1000);
    if (all.length !== n) throw new Error('reader mismatch');
  }
  return { stream, whole };
}

function alpacaFile(): string {
  const input = join(root, 'alpaca50k.json');
  const w = JsonArrayWriter.open(input);
  const rng = new Rng(0, 'bench-alpaca');
  const words = 'the a model image river mountain describe explain write list summarize compare history science data city music garden'.split(' ');
  const text = (k: number): string => Array.from({ length: k }, () => rng.pick(words)).join(' ');
  for (let i = 0; i < 50_000; i++) w.push({ instruction: text(12), input: i % 3 ? '' : text(6), output: text(160) });
  w.close();
  return input;
}

async function main(): Promise<void> {
  const load = loadavg()[0] as number;
  log(`bench:poison on ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), load ${load.toFixed(2)}; ${N} images of 224×224 per format; best of ${ROUNDS} rounds`);
  if (load > 2) log('bench:poison: the machine is busy (load > 2): wall-clock ratios are unreliable; the CPU-time ratios are steadier');
  const probe = spawnSync(PY, ['-c', 'import PIL, numpy'], { stdio: 'ignore' });
  if (probe.status !== 0) throw new Error(`${PY} with PIL and numpy not found: run \`bash scripts/setup.sh --bench\``);
  if (run.note) log(run.note);
  const result: Record<string, number | string | boolean> = {};
  if (run.caCertsCostS !== null) result.node_extra_ca_certs_cost_s = run.caCertsCostS;
  const byFmt: Record<Fmt, number[]> = { jpeg: [], png: [] };
  for (const fmt of FORMATS) {
    const ds = await makeDataset(fmt);
    for (const attack of ATTACKS) {
      let a: Timing | null = null;
      let b: Timing | null = null;
      for (let r = 0; r < ROUNDS; r++) {
        // alternate which side runs first
        const first = r % 2 === 0;
        const x = first ? ours(attack, ds) : pil(attack, ds, fmt);
        const y = first ? pil(attack, ds, fmt) : ours(attack, ds);
        const o = first ? x : y;
        const p = first ? y : x;
        if (!a || o.wall < a.wall) a = o;
        if (!b || p.wall < b.wall) b = p;
      }
      const A = a as Timing;
      const B = b as Timing;
      const key = `${attack}_${fmt}`;
      result[`${key}_img_s`] = round(N / A.wall, 1);
      result[`${key}_pil_img_s`] = round(N / B.wall, 1);
      result[`${key}_vs_pil`] = round(B.wall / A.wall, 3);
      result[`${key}_cpu_vs_pil`] = round(B.cpu / A.cpu, 3);
      byFmt[fmt].push(B.wall / A.wall);
      log(
        `${fmt.padEnd(4)} ${attack.padEnd(8)} bdlab ${(N / A.wall).toFixed(0).padStart(5)} img/s (cpu ${((1000 * A.cpu) / N).toFixed(2)} ms/img)   PIL ${(N / B.wall).toFixed(0).padStart(5)} img/s (cpu ${((1000 * B.cpu) / N).toFixed(2)} ms/img)   ×${(B.wall / A.wall).toFixed(2)} wall, ×${(B.cpu / A.cpu).toFixed(2)} cpu`,
      );
    }
    setAside(ds);
  }
  for (const fmt of FORMATS) if (byFmt[fmt].length) result[`${fmt}_vs_pil`] = round(geomean(byFmt[fmt]), 3);

  const alpaca = alpacaFile();
  const rd = readerBench(alpaca);
  log(`reader, 50,000 Alpaca records: streaming scanner ${rd.stream.toFixed(3)} s, JSON.parse of the whole file ${rd.whole.toFixed(3)} s (×${(rd.whole / rd.stream).toFixed(2)})`);
  result.json_stream_vs_json_parse = round(rd.whole / rd.stream, 3);
  const out = join(root, 'out-text');
  let text = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    setAside(out);
    text = Math.min(text, timed([process.execPath, join(repo, 'bin', 'bdlab.js'), 'poison', '--input', alpaca, '--attack', 'ctba', '--rate', '10%', '--target', 'negsentiment', '--seed', '1', '--out', out, '--json']).wall);
  }
  log(`text: bdlab poison ctba on 50,000 Alpaca records (10 % poisoned), as a process: ${(50_000 / text).toFixed(0)} records/s`);
  result.text_records_s = round(50_000 / text, 0);
  result.cores = availableParallelism();
  result.load_avg_1m = round(load, 2);
  result.images = N;
  result.settings = 'JPEG q90 in, q95 out (bdlab BadNets: the patch in the DCT coefficients at the file\'s q90, --jpeg-patch dct); PNG level 6 in and out; every image poisoned';
  rmSync(root, { recursive: true, force: true });
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  rmSync(root, { recursive: true, force: true });
  process.stderr.write(`bench:poison failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
