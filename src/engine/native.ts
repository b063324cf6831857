// Loads the native addon (native/build/Release/bdlab_native.node) and types its surface.
// The addon is deliberately thin: tensors are opaque handles, every ATen operator is
// reached by schema name through `call`, and C++ errors arrive as JavaScript Errors.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

/** An opaque libtorch tensor handle. */
export type Handle = { readonly __brand: 'TensorHandle' };
/** An opaque libtorch CPU generator handle. */
export type GeneratorHandle = { readonly __brand: 'GeneratorHandle' };

/** A value an operator argument may take; the addon converts it by the op's schema. */
export type Arg =
  | Handle
  | GeneratorHandle
  | number
  | boolean
  | string
  | null
  | undefined
  | { f: number }
  | ReadonlyArray<Handle | number | boolean | null>;

export type Ret = Handle | number | boolean | null | string | Ret[];

export interface NativeAddon {
  /** Calls an ATen operator by id (from opId) or by schema name. */
  call(op: number | string, args: Arg[], discard?: boolean): Ret;
  opId(op: string): number;
  fromBytes(data: ArrayBufferView, dtypeCode: number, shape: readonly number[]): Handle;
  toBytes(t: Handle): ArrayBuffer;
  meta(t: Handle): [number[], number, string, boolean];
  dispose(t: Handle): void;
  /** Reports the tensor's storage to V8 as external memory (for tensors only the GC owns). */
  accountMemory(t: Handle): void;
  isDisposed(t: Handle): boolean;
  liveTensors(): number;
  setRequiresGrad(t: Handle, on: boolean): void;
  getGrad(t: Handle): Handle | null;
  setGrad(t: Handle, g: Handle | null): void;
  backward(outputs: Handle[], grads: Handle[] | null, retainGraph: boolean): void;
  autogradGrad(
    outputs: Handle[],
    inputs: Handle[],
    gradOutputs: Handle[] | null,
    retainGraph: boolean,
    createGraph: boolean,
    allowUnused: boolean,
  ): Array<Handle | null>;
  gradEnabled(): boolean;
  setGradEnabled(on: boolean): void;
  isLeaf(t: Handle): boolean;
  manualSeed(seed: number): void;
  makeGenerator(seed: number): GeneratorHandle;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(): void;
  version(): string;
  schema(op: string): string;
}

function load(): NativeAddon {
  // dist/src/engine/native.js and src/engine/native.ts both sit three levels below the root.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const candidates = [
    process.env.BDLAB_NATIVE,
    join(root, 'native', 'build', 'Release', 'bdlab_native.node'),
    join(root, '..', 'native', 'build', 'Release', 'bdlab_native.node'),
  ].filter((p): p is string => typeof p === 'string');
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error('the native addon is not built: run `bash scripts/setup.sh` (it finds or installs libtorch)');
  }
  const require = createRequire(import.meta.url);
  return require(path) as NativeAddon;
}

let loaded: NativeAddon | undefined;

/**
 * The addon, loaded when a tensor is first needed: commands that only read
 * text or JSON never pay libtorch's start-up (about half a second of dlopen).
 */
export function native(): NativeAddon {
  return loaded ?? init();
}

function init(): NativeAddon {
  const a = load();
  // Some libtorch builds (Debian's among them) start with one OpenMP thread; use
  // every core unless BDLAB_THREADS says otherwise.
  const envThreads = Number(process.env.BDLAB_THREADS ?? '');
  a.setNumThreads(Number.isInteger(envThreads) && envThreads > 0 ? envThreads : availableParallelism());
  loaded = a;
  return a;
}


const opIds = new Map<string, number>();

/**
 * Calls an ATen operator by schema name ("aten::add.Tensor"). The name is
 * resolved to an id once, so the hot path skips converting and hashing it.
 */
export function callNative(op: string, args: Arg[], discard = false): Ret {
  const a = loaded ?? init();
  let id = opIds.get(op);
  if (id === undefined) {
    id = a.opId(op);
    opIds.set(op, id);
  }
  return a.call(id, args, discard);
}
