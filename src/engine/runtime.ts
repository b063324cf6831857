// Process-wide engine settings: threads, devices and memory statistics.
import { native } from './native.js';
import { scopeDepth } from './scope.js';
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
