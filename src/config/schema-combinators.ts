// Small schema combinators for validating untrusted, already-parsed data
// (YAML/JSON) into closed TypeScript types. Each schema both checks and
// normalises, records problems with the exact key path, and drops only the
// invalid part so valid siblings survive. No external schema library: the
// rules cloud-init users rely on (lenient spellings, legacy forms) are easier
// to express as code than as JSON Schema.

/** One step of a path into the input: a mapping key or a list index. */
export type PathSegment = string | number;
export type Path = readonly PathSegment[];

export interface RawIssue {
  readonly path: Path;
  readonly message: string;
}

/** Marks a value that failed validation; it is dropped by the enclosing schema. */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;
export type Parsed<T> = T | Invalid;

/** Thrown internally when the input is too large to walk; caught by the caller. */
export class BudgetExceeded extends Error {}

export interface ValidationContextOptions {
  /** Maximum number of values visited; bounds work on alias-heavy YAML. */
  readonly maxVisits?: number;
  /**
   * The source text of a scalar at a path, when the input came from YAML text.
   * Lets a schema recover what YAML 1.1 readers (cloud-init's PyYAML) would see,
   * e.g. `0644` as an octal number.
   */
  readonly rawScalar?: (path: Path) => string | undefined;
}

export class ValidationContext {
  readonly errors: RawIssue[] = [];
  readonly warnings: RawIssue[] = [];
  readonly rawScalar: ((path: Path) => string | undefined) | undefined;
  private visits = 0;
  private readonly maxVisits: number;

  constructor(opts: ValidationContextOptions = {}) {
    this.maxVisits = opts.maxVisits ?? 200_000;
    this.rawScalar = opts.rawScalar;
  }

  error(path: Path, message: string): Invalid {
    this.errors.push({ path, message });
    return INVALID;
  }

  warn(path: Path, message: string): void {
    this.warnings.push({ path, message });
  }

  /** Count one visited value; aliases in YAML can make a small text expand enormously. */
  visit(): void {
    this.visits += 1;
    if (this.visits > this.maxVisits) throw new BudgetExceeded(`more than ${this.maxVisits} values`);
  }
}

export type ValueType = 'string' | 'number' | 'boolean';

export interface Schema<T> {
  /** What the schema wants, for messages: "a string", "one of \"mbr\", \"gpt\"". */
  readonly expected: string;
  /** Scalar types this schema restricts by value, so a mismatch shows the value itself. */
  readonly valueTypes: ReadonlySet<ValueType>;
  /** For oneOf: the alternatives' descriptions, so nested oneOfs read as one flat list. */
  readonly parts?: readonly string[];
  /**
   * Whether this schema claims the value inside oneOf(). Scalars claim only valid
   * values; collections claim by shape and then report errors inside.
   */
  accepts(value: unknown): boolean;
  parse(value: unknown, ctx: ValidationContext, path: Path): Parsed<T>;
}

export type Output<S> = S extends Schema<infer T> ? T : never;

const NO_VALUE_TYPES: ReadonlySet<ValueType> = new Set();

// ---------------------------------------------------------------------------
// Describing values and paths

export function isMapping(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The YAML-level type of a value, as a user would name it. */
export function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Date) return 'date';
  if (v instanceof Uint8Array) return 'binary';
  if (isMapping(v)) return 'mapping';
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return t;
  return `unsupported value (${t})`;
}

/** The value itself for short scalars (enum mismatches), the type otherwise. */
function describeGot(v: unknown, valueTypes: ReadonlySet<ValueType>): string {
  const t = typeof v;
  if ((t === 'string' || t === 'number' || t === 'boolean') && valueTypes.has(t)) {
    if (t === 'string') {
      const s = v as string;
      return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s);
    }
    return String(v);
  }
  return describeType(v);
}

function typeError(path: Path, ctx: ValidationContext, expected: string, v: unknown, valueTypes: ReadonlySet<ValueType>): Invalid {
  return ctx.error(path, `expected ${expected}, got ${describeGot(v, valueTypes)}`);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `users[2].ssh_authorized_keys[0]`; keys that are not plain words are quoted: `disk_setup["/dev/vdb"]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Inverse of formatPath; undefined when the text is not a path formatPath can produce. */
export function parsePath(text: string): PathSegment[] | undefined {
  const out: PathSegment[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '[') {
      if (text[i + 1] === '"') {
        // Find the closing quote of a JSON string literal.
        let j = i + 2;
        while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
        if (text[j + 1] !== ']') return undefined;
        try {
          out.push(JSON.parse(text.slice(i + 1, j + 1)) as string);
        } catch {
          return undefined; // not a JSON string: not a path we produce
        }
        i = j + 2;
      } else {
        const end = text.indexOf(']', i);
        const digits = text.slice(i + 1, end);
        if (end < 0 || !/^\d+$/.test(digits)) return undefined;
        out.push(Number(digits));
        i = end + 1;
      }
    } else {
      if (ch === '.') {
        if (out.length === 0) return undefined;
        i += 1;
      } else if (out.length > 0) {
        return undefined;
      }
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i));
      if (!m) return undefined;
      out.push(m[0]);
      i += m[0].length;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Scalars

function scalar<T>(expected: string, check: (v: unknown) => T | undefined, valueTypes: ReadonlySet<ValueType> = NO_VALUE_TYPES): Schema<T> {
  return {
    expected,
    valueTypes,
    accepts: (v) => check(v) !== undefined,
    parse(v, ctx, path) {
      ctx.visit();
      const out = check(v);
      return out === undefined ? typeError(path, ctx, expected, v, valueTypes) : out;
    },
  };
}

export function string(): Schema<string> {
  return scalar('a string', (v) => (typeof v === 'string' ? v : undefined));
}

/** A string, or a number written where a string was meant (`- [chmod, 600, f]`), as cloud-init's str() does. */
export function stringish(): Schema<string> {
  return scalar('a string', (v) => (typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined));
}

/** A string matching a pattern; the value is shown on mismatch. */
export function pattern(re: RegExp, expected: string): Schema<string> {
  return scalar(expected, (v) => (typeof v === 'string' && re.test(v) ? v : undefined), new Set<ValueType>(['string']));
}

// YAML 1.1 (PyYAML, which cloud-init uses) reads these plain words as booleans;
// js-yaml 4 (YAML 1.2) keeps them as strings. Accepting them keeps configs that
// work under cloud-init working here.
const YAML11_TRUE = new Set(['true', 'True', 'TRUE', 'yes', 'Yes', 'YES', 'on', 'On', 'ON']);
const YAML11_FALSE = new Set(['false', 'False', 'FALSE', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);

/** A boolean; also the YAML 1.1 words yes/no/on/off/true/false given as strings. */
export function bool(): Schema<boolean> {
  return scalar('a boolean', (v) => {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      if (YAML11_TRUE.has(v)) return true;
      if (YAML11_FALSE.has(v)) return false;
    }
    return undefined;
  });
}

/**
 * `false`, or a YAML 1.1 word for it ("no", "off"): for keys that take a string
 * or false, where cloud-init would have read the unquoted word as false.
 */
export function falseValue(): Schema<false> {
  return scalar('false', (v) => (v === false || (typeof v === 'string' && YAML11_FALSE.has(v)) ? false : undefined), new Set<ValueType>(['boolean']));
}

/** Only a real boolean, where a string has its own meaning (a command, a locale name). */
export function strictBool(): Schema<boolean> {
  return scalar('a boolean', (v) => (typeof v === 'boolean' ? v : undefined));
}

export interface IntOptions {
  readonly min?: number;
  readonly max?: number;
  /** Also accept a string of decimal digits ("1001"). */
  readonly numericString?: boolean;
}

function rangeText(o: IntOptions): string {
  if (o.min !== undefined && o.max !== undefined) return `an integer from ${o.min} to ${o.max}`;
  if (o.min !== undefined) return `an integer of at least ${o.min}`;
  if (o.max !== undefined) return `an integer of at most ${o.max}`;
  return 'an integer';
}

/** An integer; out-of-range values are reported with the value. */
export function int(opts: IntOptions = {}): Schema<number> {
  const expected = rangeText(opts);
  const toInt = (v: unknown): number | undefined => {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (opts.numericString && typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) {
      const n = Number(v.trim());
      return Number.isSafeInteger(n) ? n : undefined;
    }
    return undefined;
  };
  const inRange = (n: number) => (opts.min === undefined || n >= opts.min) && (opts.max === undefined || n <= opts.max);
  return {
    expected,
    valueTypes: NO_VALUE_TYPES,
    accepts: (v) => toInt(v) !== undefined,
    parse(v, ctx, path) {
      ctx.visit();
      const n = toInt(v);
      if (n === undefined) return typeError(path, ctx, expected, v, NO_VALUE_TYPES);
      if (!inRange(n)) return ctx.error(path, `expected ${expected}, got ${n}`);
      return n;
    },
  };
}

/** A non-negative number (timeouts in seconds may be fractional). */
export function nonNegativeNumber(): Schema<number> {
  return scalar('a number of at least 0', (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined));
}

function quote(v: string | number | boolean | null): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function joinAlternatives(parts: readonly string[]): string {
  if (parts.length <= 1) return parts[0] ?? 'nothing';
  return `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}

/** One of a fixed set of scalar values. */
export function literal<const V extends string | number | boolean | null>(...values: V[]): Schema<V> {
  const set = new Set<unknown>(values);
  const valueTypes = new Set<ValueType>();
  for (const v of values) if (v !== null) valueTypes.add(typeof v as ValueType);
  const expected = values.length > 2 ? `one of ${values.map(quote).join(', ')}` : joinAlternatives(values.map(quote));
  return scalar(expected, (v) => (set.has(v) ? (v as V) : undefined), valueTypes);
}

/** Accept anything, unchanged; for parts another component validates. */
export function opaque(expected = 'any value'): Schema<unknown> {
  return {
    expected,
    valueTypes: NO_VALUE_TYPES,
    accepts: () => true,
    parse(v, ctx) {
      ctx.visit();
      return v;
    },
  };
}

// ---------------------------------------------------------------------------
// Combinators

/** Normalise the output of a schema. */
export function map<A, B>(schema: Schema<A>, fn: (a: A) => B): Schema<B> {
  return refine(schema, (a) => fn(a));
}

/** Like map, with access to the context: may warn, or reject with an error. */
export function refine<A, B>(schema: Schema<A>, fn: (a: A, ctx: ValidationContext, path: Path) => Parsed<B>): Schema<B> {
  return {
    expected: schema.expected,
    valueTypes: schema.valueTypes,
    ...(schema.parts ? { parts: schema.parts } : {}),
    accepts: (v) => schema.accepts(v),
    parse(v, ctx, path) {
      const a = schema.parse(v, ctx, path);
      return a === INVALID ? INVALID : fn(a, ctx, path);
    },
  };
}

/** Emit a warning whenever the schema accepts a value (deprecated forms). */
export function deprecated<T>(schema: Schema<T>, message: string): Schema<T> {
  return refine(schema, (a, ctx, path) => {
    ctx.warn(path, message);
    return a;
  });
}

/**
 * The first alternative that claims the value parses it. When none does, one
 * error lists every alternative: `expected a string or a list of strings, got number`.
 */
export function oneOf<S extends Schema<unknown>[]>(...alternatives: S): Schema<Output<S[number]>> {
  const valueTypes = new Set<ValueType>();
  for (const alt of alternatives) for (const t of alt.valueTypes) valueTypes.add(t);
  const parts = alternatives.flatMap((a) => a.parts ?? [a.expected]);
  const expected = joinAlternatives(parts);
  return {
    expected,
    valueTypes,
    parts,
    accepts: (v) => alternatives.some((a) => a.accepts(v)),
    parse(v, ctx, path) {
      ctx.visit();
      const alt = alternatives.find((a) => a.accepts(v));
      if (alt === undefined) return typeError(path, ctx, expected, v, valueTypes);
      return alt.parse(v, ctx, path) as Parsed<Output<S[number]>>;
    },
  };
}

export interface ListOptions {
  readonly min?: number;
  readonly max?: number;
  /**
   * Drop the whole list when one item is invalid. For command lists: running the
   * remaining commands of a script with one missing is worse than running none.
   */
  readonly allOrNothing?: boolean;
  /** Items that parse to this value are removed silently (null entries in runcmd). */
  readonly skipNull?: boolean;
  /** Override the description ("a list of strings"). */
  readonly expected?: string;
}

function article(expected: string): string {
  // "a string" -> "strings"; other descriptions are kept as written.
  const m = /^an? (\S+)$/.exec(expected);
  return m ? `${m[1]}s` : expected;
}

export function listOf<T>(item: Schema<T>, opts: ListOptions = {}): Schema<readonly T[]> {
  const expected = opts.expected ?? `a list of ${article(item.expected)}`;
  return {
    expected,
    valueTypes: NO_VALUE_TYPES,
    accepts: (v) => Array.isArray(v),
    parse(v, ctx, path) {
      ctx.visit();
      if (!Array.isArray(v)) return typeError(path, ctx, expected, v, NO_VALUE_TYPES);
      if (opts.min !== undefined && v.length < opts.min) {
        return ctx.error(path, `expected at least ${opts.min} item${opts.min === 1 ? '' : 's'}, got ${v.length}`);
      }
      if (opts.max !== undefined && v.length > opts.max) {
        return ctx.error(path, `expected at most ${opts.max} item${opts.max === 1 ? '' : 's'}, got ${v.length}`);
      }
      const out: T[] = [];
      let bad = false;
      v.forEach((el: unknown, i) => {
        if (opts.skipNull && (el === null || el === undefined)) return;
        const r = item.parse(el, ctx, [...path, i]);
        if (r === INVALID) bad = true;
        else out.push(r);
      });
      if (bad && opts.allOrNothing) return INVALID;
      return out;
    },
  };
}

/** A fixed-length list whose items have their own schemas: `[size, type]`. */
export function tuple<A, B>(a: Schema<A>, b: Schema<B>, expected: string): Schema<readonly [A, B]> {
  return {
    expected,
    valueTypes: NO_VALUE_TYPES,
    accepts: (v) => Array.isArray(v),
    parse(v, ctx, path) {
      ctx.visit();
      if (!Array.isArray(v)) return typeError(path, ctx, expected, v, NO_VALUE_TYPES);
      if (v.length !== 2) return ctx.error(path, `expected ${expected}, got a list of ${v.length} items`);
      const x = a.parse(v[0], ctx, [...path, 0]);
      const y = b.parse(v[1], ctx, [...path, 1]);
      return x === INVALID || y === INVALID ? INVALID : [x, y];
    },
  };
}

/** A comma-separated string ("users, admin") or a list of strings -> trimmed names. */
export function nameList(expected = 'a comma-separated string or a list of strings'): Schema<readonly string[]> {
  const list = listOf(string());
  return {
    expected,
    valueTypes: NO_VALUE_TYPES,
    accepts: (v) => typeof v === 'string' || Array.isArray(v),
    parse(v, ctx, path) {
      ctx.visit();
      if (typeof v === 'string') return splitNames(v);
      if (Array.isArray(v)) {
        const r = list.parse(v, ctx, path);
        return r === INVALID ? INVALID : r.map((s) => s.trim()).filter((s) => s !== '');
      }
      return typeError(path, ctx, expected, v, NO_VALUE_TYPES);
    },
  };
}

export function splitNames(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

type FieldTable = Record<string, Schema<unknown>>;

export interface RecordOptions<F extends FieldTable> {
  /** Keys that must be present; the mapping is dropped without them. */
  readonly required?: readonly (keyof F & string)[];
  /** Old spellings cloud-init still reads (`lock-passwd`), mapped to the canonical key. */
  readonly aliases?: Readonly<Record<string, keyof F & string>>;
  /** Keys cloud-init knows that guestctx does not implement: warned, then ignored. */
  readonly unsupported?: readonly string[];
  readonly expected?: string;
}

type Optionalize<F extends FieldTable, R extends string> = { readonly [K in R & keyof F]: Output<F[K]> } & {
  readonly [K in Exclude<keyof F, R>]?: Output<F[K]>;
};

export const UNKNOWN_KEY = 'unknown key, ignored';
export const UNSUPPORTED_KEY = 'not supported by guestctx, ignored';

/**
 * A mapping with known keys. Unknown keys are warnings; an invalid value drops
 * only that key; a missing required key drops the whole mapping.
 */
export function record<F extends FieldTable, R extends keyof F & string = never>(
  fields: F,
  opts: RecordOptions<F> & { readonly required?: readonly R[] } = {},
): Schema<Optionalize<F, R>> {
  const expected = opts.expected ?? 'a mapping';
  const unsupported = new Set(opts.unsupported ?? []);
  const aliases = opts.aliases ?? {};
  return {
    expected,
    valueTypes: NO_VALUE_TYPES,
    accepts: (v) => isMapping(v),
    parse(v, ctx, path) {
      ctx.visit();
      if (!isMapping(v)) return typeError(path, ctx, expected, v, NO_VALUE_TYPES);
      const out: Record<string, unknown> = {};
      const has = (k: string) => Object.prototype.hasOwnProperty.call(v, k);
      for (const key of Object.keys(v)) {
        const keyPath = [...path, key];
        let target: string | undefined;
        if (Object.prototype.hasOwnProperty.call(fields, key)) {
          target = key;
        } else if (Object.prototype.hasOwnProperty.call(aliases, key)) {
          target = aliases[key] as string;
          if (has(target)) {
            ctx.warn(keyPath, `ignored because ${JSON.stringify(target)} is also set`);
            continue;
          }
          ctx.warn(keyPath, `deprecated spelling, use ${JSON.stringify(target)}`);
        } else if (unsupported.has(key)) {
          ctx.warn(keyPath, UNSUPPORTED_KEY);
          continue;
        } else {
          ctx.warn(keyPath, UNKNOWN_KEY);
          continue;
        }
        const schema = fields[target] as Schema<unknown>;
        const r = schema.parse(v[key], ctx, keyPath);
        if (r !== INVALID) out[target] = r;
      }
      let missing = false;
      for (const req of opts.required ?? []) {
        if (out[req] !== undefined) continue;
        missing = true;
        const present = has(req) || Object.entries(aliases).some(([alias, canon]) => canon === req && has(alias));
        // A present-but-invalid key already has its own error.
        if (!present) ctx.error(path, `missing required key ${JSON.stringify(req)}`);
      }
      return missing ? INVALID : (out as Optionalize<F, R>);
    },
  };
}

export interface MapOptions {
  /** Keys must match; others are warned about and ignored. */
  readonly keyPattern?: RegExp;
  readonly expected?: string;
}

/** A mapping with arbitrary keys and one value schema (device -> settings). */
export function mapOf<T>(value: Schema<T>, opts: MapOptions = {}): Schema<Readonly<Record<string, T>>> {
  const expected = opts.expected ?? 'a mapping';
  return {
    expected,
    valueTypes: NO_VALUE_TYPES,
    accepts: (v) => isMapping(v),
    parse(v, ctx, path) {
      ctx.visit();
      if (!isMapping(v)) return typeError(path, ctx, expected, v, NO_VALUE_TYPES);
      const entries: [string, T][] = [];
      for (const key of Object.keys(v)) {
        if (opts.keyPattern && !opts.keyPattern.test(key)) {
          ctx.warn([...path, key], UNKNOWN_KEY);
          continue;
        }
        const r = value.parse(v[key], ctx, [...path, key]);
        if (r !== INVALID) entries.push([key, r]);
      }
      // fromEntries defines own properties, so a "__proto__" key cannot reach the prototype.
      return Object.fromEntries(entries);
    },
  };
}

/** A schema defined by hand, for shapes the combinators do not cover; `parse` only sees accepted values. */
export function custom<T>(
  expected: string,
  accepts: (v: unknown) => boolean,
  parse: (v: unknown, ctx: ValidationContext, path: Path) => Parsed<T>,
  valueTypes: ReadonlySet<ValueType> = NO_VALUE_TYPES,
): Schema<T> {
  return {
    expected,
    valueTypes,
    accepts,
    parse(v, ctx, path) {
      ctx.visit();
      // The parse function may assume the value has the shape `accepts` checked.
      return accepts(v) ? parse(v, ctx, path) : typeError(path, ctx, expected, v, valueTypes);
    },
  };
}

/** Report a value of the wrong type for a custom schema. */
export function wrongType(ctx: ValidationContext, path: Path, expected: string, v: unknown): Invalid {
  return typeError(path, ctx, expected, v, NO_VALUE_TYPES);
}
