/**
 * JSON text that must survive exactly: a record's own id such as
 * `12345678901234567890123` or `1.0` cannot go through a JavaScript number
 * without changing, so it is carried as its source text and written back
 * verbatim by `stringifyJson` (Node 20 has no JSON.rawJSON).
 */
export class JsonRaw {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

/** A record id as written in the file: a number, a string, or a number's exact text. */
export type JsonId = string | number | JsonRaw;

const MARK = '\u0000bdlab-raw:';

/** JSON.stringify that writes JsonRaw values as their text. */
export function stringifyJson(value: unknown, indent?: number): string {
  const raws: string[] = [];
  const text = JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (v instanceof JsonRaw) {
        raws.push(v.text);
        return `${MARK}${raws.length - 1}`;
      }
      return v;
    },
    indent,
  );
  if (raws.length === 0) return text;
  // the marker starts with NUL, which JSON.stringify always escapes: no real string can match
  return text.replace(/"\\u0000bdlab-raw:(\d+)"/g, (_m, i: string) => raws[Number(i)] as string);
}

/** The number text for an id read from a record: the value itself unless it would change when printed. */
export function exactNumber(value: number, source: string | null): number | JsonRaw {
  if (source === null || String(value) === source) return value;
  return new JsonRaw(source);
}
