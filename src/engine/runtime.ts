// Process-wide engine settings: threads, devices and memory statistics.
import { native } from './native.js';
import { scopeDepth } from './scope.js';
import { UserError } from '../util/errors.js';
import type { Device } from './tensor.js';

/** Sets libtorch's intra-op thread count. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`setNumThreads: expected a positive integer, got ${n}`);
  native().setNumThreads(n);
}

export function getNumThreads(): number {
  return native().getNumThreads();
}

export function cudaAvailable(): boolean {
  return native().cudaAvailable();
}

export function cudaDeviceCount(): number {
  return native().cudaDeviceCount();
}

/** 'cuda' when the found libtorch has CUDA and a GPU is visible, else 'cpu'. */
export function defaultDevice(): Device {
  return process.env.BDLAB_DEVICE === 'cpu' ? 'cpu' : cudaAvailable() ? 'cuda' : 'cpu';
}

export function synchronize(): void {
  native().cudaSynchronize();
}

export interface MemoryStats {
  /** Native tensor handles not yet disposed or finalised. */
  liveTensors: number;
  /** How many scope() calls are open. */
  scopeDepth: number;
  /** The process's resident set size, bytes. */
  rss: number;
}

export function memoryStats(): MemoryStats {
  return { liveTensors: native().liveTensors(), scopeDepth: scopeDepth(), rss: process.memoryUsage.rss() };
}

export function libtorchVersion(): string {
  return native().version();
}

/**
 * Checks a device name a user gave (`cpu`, `cuda`, `cuda:N`) against this
 * machine, so that a missing GPU is one sentence instead of libtorch's
 * dispatcher text. `flag` names the option in the message.
 */
export function resolveDevice(name: string, flag = '--device'): Device {
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(name.trim());
  if (!m || (m[1] === 'cpu' && m[2] !== undefined)) throw new UserError(`${flag} ${JSON.stringify(name)}: expected cpu, cuda or cuda:N`);
  if (m[1] === 'cpu') return 'cpu';
  if (!native().cudaAvailable()) {
    throw new UserError(`${flag} ${name}: CUDA is not available here (libtorch ${native().version()} was built without CUDA or sees no GPU); use --device cpu`);
  }
  const index = m[2] === undefined ? 0 : Number(m[2]);
  const count = native().cudaDeviceCount();
  if (index >= count) throw new UserError(`${flag} ${name}: there ${count === 1 ? 'is 1 GPU' : `are ${count} GPUs`} (cuda:0${count > 1 ? `..cuda:${count - 1}` : ''})`);
  return m[2] === undefined ? 'cuda' : (`cuda:${index}` as Device);
}
