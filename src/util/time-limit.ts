/**
 * A wall-clock bound on synchronous code that may not return in useful time
 * (a regular expression from a downloaded tokenizer that backtracks
 * catastrophically). V8 can interrupt a running script, a running regular
 * expression included, only through node:vm's `timeout`, so the function runs
 * as the body of a tiny script; it keeps its own realm and closures. Each call
 * starts a watchdog thread (about 0.1–0.3 ms), so callers use it only where a
 * bound is needed.
 */
import vm from 'node:vm';

let context: vm.Context | null = null;
let script: vm.Script | null = null;

/** Thrown when the limit is reached; the caller turns it into a message naming the cause. */
export class TimeLimitExceeded extends Error {
  constructor(readonly ms: number) {
    super(`did not finish within ${ms} ms`);
    this.name = 'TimeLimitExceeded';
  }
}

/** Runs `fn` and returns its result, or throws TimeLimitExceeded after `ms` milliseconds. */
export function withTimeLimit<T>(fn: () => T, ms: number): T {
  if (!context || !script) {
    context = vm.createContext({ job: null });
    script = new vm.Script('job()');
  }
  const ctx = context as { job: (() => T) | null };
  const previous = ctx.job;
  ctx.job = fn;
  try {
    return script.runInContext(context, { timeout: Math.max(1, Math.ceil(ms)) }) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new TimeLimitExceeded(ms);
    throw e;
  } finally {
    ctx.job = previous;
  }
}
