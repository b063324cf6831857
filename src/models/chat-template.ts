// Chat templates from model folders, rendered with @huggingface/jinja's
// parser and interpreter under limits, because a template is a program from
// a downloaded file: `range()` refuses more than MAX_TEMPLATE_RANGE elements
// before building them, every evaluation step is counted (nested loops end
// at MAX_TEMPLATE_STEPS), widths (indent, tojson's indent) are checked before
// the padding is built, and no value may grow past MAX_TEMPLATE_CHARS.
// Otherwise the template renders exactly as the library's Template.render.
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { MAX_TEMPLATE_CHARS, MAX_TEMPLATE_RANGE, MAX_TEMPLATE_STEPS, MAX_TEMPLATE_WIDTH } from '../util/limits.js';

// the package's declarations of these classes do not resolve under NodeNext
// (extensionless imports), so the parts used here are declared locally
interface Value {
  type: string;
  value: unknown;
}
type Statement = { type: string } | undefined;
type Scope = object;
interface JinjaInterpreter {
  evaluate(statement: Statement, environment: Scope): Value;
  run(program: unknown): Value;
}
const InterpreterBase = Interpreter as unknown as new (env: Scope) => JinjaInterpreter;
const EnvironmentClass = Environment as unknown as new () => Scope & { set(name: string, value: unknown): unknown };

/** A limit a template ran into (its message names the limit). */
class TemplateLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateLimitError';
  }
}

/** Python's range() with its length checked before the list exists. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  for (const x of [start, stop, step]) if (typeof x !== 'number' || !Number.isInteger(x)) throw new Error(`range() takes integers, got ${JSON.stringify(x)}`);
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > MAX_TEMPLATE_RANGE) throw new TemplateLimitError(`range(${start}, ${stop}, ${step}) would make ${n} elements, more than the ${MAX_TEMPLATE_RANGE} a chat template may`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(start + i * step);
  return out;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The library's strftime_now (the directives chat templates use). */
function strftimeNow(format: string): string {
  const d = new Date();
  const pad = (n: number): string => String(n).padStart(2, '0');
  return String(format).replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad(d.getMonth() + 1);
      case '%d':
        return pad(d.getDate());
      case '%b':
        return (MONTHS[d.getMonth()] as string).slice(0, 3);
      case '%B':
        return MONTHS[d.getMonth()] as string;
      case '%H':
        return pad(d.getHours());
      case '%M':
        return pad(d.getMinutes());
      default:
        return '%';
    }
  });
}

/** Filters whose numeric arguments size what they build. */
const WIDTH_FILTERS = new Set(['indent', 'tojson', 'center', 'wordwrap']);

interface FilterNode {
  type: string;
  filter?: { type: string; value?: string; callee?: { value?: string }; args?: Array<{ type: string; value?: unknown }> };
}

class BoundedInterpreter extends InterpreterBase {
  private steps = 0;

  override evaluate(statement: Statement, environment: Scope): Value {
    if (++this.steps > MAX_TEMPLATE_STEPS) throw new TemplateLimitError(`it ran more than ${MAX_TEMPLATE_STEPS} steps (loops too long or nested too deep)`);
    if (statement && (statement.type === 'FilterExpression' || statement.type === 'FilterStatement')) this.checkWidths(statement as unknown as FilterNode, environment);
    const v = super.evaluate(statement, environment);
    const size = sizeOf(v);
    // a loop over a list does work per element before its body is evaluated: charge it up front
    if (Array.isArray(v.value)) this.steps += v.value.length;
    if (size > MAX_TEMPLATE_CHARS) throw new TemplateLimitError(`it built a value of ${size} ${v.type === 'StringValue' ? 'characters' : 'elements'}, more than the ${MAX_TEMPLATE_CHARS} allowed`);
    return v;
  }

  /** Numeric arguments of width filters, evaluated (they are expressions) and checked before the filter runs. */
  private checkWidths(node: FilterNode, environment: Scope): void {
    const f = node.filter;
    if (!f || f.type !== 'CallExpression') return;
    const name = f.callee?.value;
    if (!name || !WIDTH_FILTERS.has(name)) return;
    for (const arg of f.args ?? []) {
      const expr = (arg.type === 'KeywordArgumentExpression' ? arg.value : arg) as Statement;
      const v = super.evaluate(expr, environment);
      if ((v.type === 'IntegerValue' || v.type === 'FloatValue') && Math.abs(v.value as number) > MAX_TEMPLATE_WIDTH) {
        throw new TemplateLimitError(`${name}(${String(v.value)}) asks for a width above the ${MAX_TEMPLATE_WIDTH} allowed`);
      }
    }
  }
}

function sizeOf(v: Value): number {
  const x = v.value as unknown;
  if (typeof x === 'string') return x.length;
  if (Array.isArray(x)) return x.length;
  if (x instanceof Map) return x.size;
  return 0;
}

/** A parsed chat template that renders under the limits above. */
export class ChatTemplate {
  private readonly template: Template;

  /** Throws the parser's error for a template that does not parse. */
  constructor(readonly source: string) {
    this.template = new Template(source);
  }

  /** Renders with `vars`; throws TemplateLimitError past a limit, or the template's own error. */
  render(vars: Record<string, unknown>): string {
    const env = new EnvironmentClass();
    // the library's globals (setupGlobals), with range() bounded
    for (const [k, v] of Object.entries({ false: false, true: true, none: null, False: false, True: true, None: null })) env.set(k, v);
    env.set('raise_exception', (message: string) => {
      throw new Error(message);
    });
    env.set('strftime_now', strftimeNow);
    for (const [k, v] of Object.entries(vars)) env.set(k, v);
    env.set('range', boundedRange);
    const out = new BoundedInterpreter(env).run(this.template.parsed);
    return out.value as string;
  }
}
