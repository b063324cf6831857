/**
 * Text helpers that reproduce Python's string semantics where the reference
 * scorers (BackdoorLLM, CROW, pycocoevalcap) depend on them.
 */

// Python's str.isspace() set: JS `\s` lacks U+001C..U+001F and U+0085 and adds
// U+FEFF, so `String.prototype.trim` would disagree with `str.strip()`.
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

/** Python's `str.strip()` with no argument. */
export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}


/**
 * Lower-cases like Python's `str.lower()` (full Unicode default case mapping,
 * which is also what `toLowerCase()` does, final sigma included).
 */
export function lower(s: string): string {
  return s.toLowerCase();
}

/** Escapes a literal for use inside a RegExp. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
