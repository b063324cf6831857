// Explicit memory management: `scope(fn)` frees every tensor created inside fn
// except those it returns or `keep`s (the tf.tidy pattern). Finalizers are only
// a safety net, and only for objects that leave every scope (they are costly per
// object, and a scope already frees what it tracks); a training step run inside
// `scope` holds constant memory.

export interface Scoped {
  dispose(): void;
  /** The scope this object is tracked by, if any (maintained by this module). */
  scopeSet?: Set<Scoped> | undefined;
  /** Called when no scope owns the object any more: it must free itself when collected. */
  unscoped?(): void;
}

const stack: Array<Set<Scoped>> = [];

/** Registers a new tensor with the innermost open scope. */
export function track(t: Scoped): void {
  const top = stack[stack.length - 1];
  if (top) {
    top.add(t);
    t.scopeSet = top;
  } else {
    t.unscoped?.();
  }
}

/** Removes a tensor from automatic disposal: the caller now owns it. */
export function keep<T extends Scoped>(t: T): T {
  if (t.scopeSet) {
    t.scopeSet.delete(t);
    t.scopeSet = undefined;
    t.unscoped?.();
  }
  return t;
}

function isScoped(x: unknown): x is Scoped {
  return typeof x === 'object' && x !== null && typeof (x as Scoped).dispose === 'function' && 'scopeSet' in x;
}

/** Finds every tensor in a returned value (arrays, plain objects and Maps, any depth). */
function collect(x: unknown, out: Set<Scoped>, seen: Set<unknown>): void {
  if (typeof x !== 'object' || x === null || seen.has(x)) return;
  seen.add(x);
  if (isScoped(x)) {
    out.add(x);
    return;
  }
  if (Array.isArray(x)) {
    for (const v of x) collect(v, out, seen);
  } else if (x instanceof Map) {
    for (const v of x.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(x) === Object.prototype) {
    for (const v of Object.values(x as Record<string, unknown>)) collect(v, out, seen);
  }
}

/**
 * Runs fn and disposes every tensor it created that is not part of its result
 * (which moves to the enclosing scope). fn must be synchronous.
 */
export function scope<T>(fn: () => T): T {
  const mine = new Set<Scoped>();
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of mine) {
      t.scopeSet = undefined;
      t.dispose();
    }
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of mine) t.dispose();
    throw new Error('scope(fn): fn must be synchronous (it returned a Promise)');
  }
  const survivors = new Set<Scoped>();
  collect(result, survivors, new Set());
  for (const t of mine) {
    t.scopeSet = undefined;
    if (!survivors.has(t)) t.dispose();
  }
  const parent = stack[stack.length - 1];
  for (const t of survivors) {
    if (!mine.has(t)) continue;
    if (parent) {
      parent.add(t);
      t.scopeSet = parent;
    } else {
      t.unscoped?.();
    }
  }
  return result;
}

export function scopeDepth(): number {
  return stack.length;
}
