// cloud-config merging with cloud-init's merge_how / merge_type semantics.
//
// A merge spec is a list of mergers, each a type name (dict, list, str) with options:
// the string form "list(append)+dict(recurse_array,no_replace)+str(append)" or the list
// form [{name: list, settings: [append]}, ...]. Merging dispatches on the type of the
// value already there; a type with no merger in the spec keeps the existing value.
//   dict: replace | no_replace (default), recurse_array/recurse_list, recurse_str,
//         allow_delete (a null in the new config deletes the key); dicts under
//         no_replace always recurse.
//   list: append | prepend | replace (default: index by index, the old length is kept)
//         | no_replace, with recurse_array/recurse_list, recurse_str, recurse_dict.
//   str:  append (concatenate), else the new string wins.
// Parts of user-data merge with "dict(replace)+list()+str()" unless they say otherwise:
// a later part's top-level key replaces an earlier one. Sources (user over vendor) merge
// with "list()+dict()+str()": the first source's keys stay, nested dicts recurse.
import { ConfigError } from '../errors';

export type MergerName = 'dict' | 'list' | 'str';

export interface MergerSpec {
  readonly name: MergerName;
  readonly options: ReadonlySet<string>;
}

/** What parts of user-data use when they do not say (later top-level keys replace). */
export const PART_MERGE_DEFAULT = 'dict(replace)+list()+str()';
/** What sources use when combined, earlier ones taking priority (user-data over vendor-data). */
export const SOURCE_MERGE_DEFAULT = 'list()+dict()+str()';

const MERGER_RE = /^([a-z_][a-z0-9_]*)\((.*)\)$/;
const KNOWN: ReadonlySet<string> = new Set(['dict', 'list', 'str']);

function toMerger(rawName: string, options: readonly string[], source: string): MergerSpec {
  let name = rawName.trim().toLowerCase().replace(/-/g, '_');
  if (name.startsWith('m_')) name = name.slice(2);
  if (!KNOWN.has(name)) {
    throw new ConfigError(source, `unknown merger "${rawName}" in merge_how (known: dict, list, str)`);
  }
  return { name: name as MergerName, options: new Set(options.map((o) => o.trim().toLowerCase()).filter((o) => o !== '')) };
}

/** Parse a merge spec from the string or list form; undefined/empty gives an empty list. */
export function parseMergeHow(spec: unknown, source = 'merge_how'): MergerSpec[] {
  if (spec === undefined || spec === null) return [];
  if (typeof spec === 'string') {
    const out: MergerSpec[] = [];
    for (const piece of spec.split('+')) {
      const text = piece.trim().toLowerCase().replace(/-/g, '_');
      if (text === '') continue;
      const m = MERGER_RE.exec(text);
      if (!m) throw new ConfigError(source, `merger "${piece.trim()}" is not of the form name(option,...)`);
      out.push(toMerger(m[1] ?? '', (m[2] ?? '').split(','), source));
    }
    return out;
  }
  if (Array.isArray(spec)) {
    return spec.map((entry, i): MergerSpec => {
      if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) {
        const e = entry as Record<string, unknown>;
        if (typeof e['name'] !== 'string') throw new ConfigError(`${source}[${i}]`, 'merger entry needs a string "name"');
        const settings = e['settings'] ?? [];
        if (!Array.isArray(settings) || !settings.every((s) => typeof s === 'string')) {
          throw new ConfigError(`${source}[${i}].settings`, 'merger settings must be a list of strings');
        }
        return toMerger(e['name'], settings as string[], `${source}[${i}]`);
      }
      // cloud-init also accepts [name, option, ...] lists
      if (Array.isArray(entry) && entry.length > 0 && entry.every((s) => typeof s === 'string')) {
        const [name, ...options] = entry as string[];
        return toMerger(name ?? '', options, `${source}[${i}]`);
      }
      throw new ConfigError(`${source}[${i}]`, 'merger entry must be {name, settings} or a list of strings');
    });
  }
  throw new ConfigError(source, `merge_how must be a string or a list, not ${describeType(spec)}`);
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

type Plain = Record<string, unknown>;

/** Assign without invoking setters: a YAML key "__proto__" must stay a plain key. */
export function setOwn(obj: Plain, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isDict(v: unknown): v is Plain {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The method of a merger: the first of `order` present in its options, else the default. */
function methodOf(m: MergerSpec, order: readonly string[], fallback: string): string {
  return order.find((o) => m.options.has(o)) ?? fallback;
}

class Merger {
  private readonly byName = new Map<MergerName, MergerSpec>();
  constructor(specs: readonly MergerSpec[]) {
    // The first merger named for a type handles it, as in cloud-init's lookup.
    for (const s of specs) if (!this.byName.has(s.name)) this.byName.set(s.name, s);
  }

  merge(old: unknown, next: unknown): unknown {
    if (isDict(old)) {
      const m = this.byName.get('dict');
      return m ? this.mergeDict(m, old, next) : old;
    }
    if (Array.isArray(old)) {
      const m = this.byName.get('list');
      return m ? this.mergeList(m, old, next) : old;
    }
    if (typeof old === 'string') {
      const m = this.byName.get('str');
      if (!m) return old;
      return m.options.has('append') && typeof next === 'string' ? old + next : next;
    }
    // Numbers, booleans, null: no merger handles them, the existing value stays.
    return old;
  }

  private mergeDict(m: MergerSpec, old: Plain, next: unknown): Plain {
    if (!isDict(next)) return old;
    const replace = methodOf(m, ['replace', 'no_replace'], 'no_replace') === 'replace';
    const recurseArray = m.options.has('recurse_array') || m.options.has('recurse_list');
    const recurseStr = m.options.has('recurse_str');
    const allowDelete = m.options.has('allow_delete');
    const out: Plain = { ...old };
    for (const [key, value] of Object.entries(next)) {
      if (!Object.prototype.hasOwnProperty.call(out, key)) {
        setOwn(out, key, value);
        continue;
      }
      if (value === null && allowDelete) {
        delete out[key];
        continue;
      }
      const prev = out[key];
      if (replace) setOwn(out, key, value);
      else if (Array.isArray(value) && recurseArray) setOwn(out, key, this.merge(prev, value));
      else if (typeof value === 'string' && recurseStr) setOwn(out, key, this.merge(prev, value));
      else if (isDict(value)) setOwn(out, key, this.merge(prev, value));
      // otherwise the existing value stays
    }
    return out;
  }

  private mergeList(m: MergerSpec, old: unknown[], next: unknown): unknown {
    const method = methodOf(m, ['append', 'prepend', 'replace', 'no_replace'], 'replace');
    if (!Array.isArray(next)) {
      // cloud-init would iterate a non-list here (a string becomes characters); treat it as one item instead.
      if (method === 'replace') return next;
      if (method === 'append') return [...old, next];
      if (method === 'prepend') return [next, ...old];
      return old;
    }
    if (method === 'append') return [...old, ...next];
    if (method === 'prepend') return [...next, ...old];
    const recurseArray = m.options.has('recurse_array') || m.options.has('recurse_list');
    const recurseStr = m.options.has('recurse_str');
    const recurseDict = m.options.has('recurse_dict');
    // Index-wise: items past the old length are dropped, items past the new length are kept.
    return old.map((prev, i) => {
      if (i >= next.length || method === 'no_replace') return prev;
      const value = next[i];
      if (Array.isArray(value) && recurseArray) return this.merge(prev, value);
      if (typeof value === 'string' && recurseStr) return this.merge(prev, value);
      if (isDict(value) && recurseDict) return this.merge(prev, value);
      return value;
    });
  }
}

/** Remove and return merge_how (or merge_type) from a cloud-config, which cloud-init never keeps. */
export function takeMergeHow(config: Plain): { config: Plain; mergeHow: unknown } {
  if (!('merge_how' in config) && !('merge_type' in config)) return { config, mergeHow: undefined };
  const { merge_how: mergeHow, merge_type: mergeType, ...rest } = config;
  return { config: rest, mergeHow: mergeHow ?? mergeType };
}

/**
 * Merge `next` into `base` and return a new object (neither input is modified).
 * `mergeHow` (string or list form) wins; else `next`'s own merge_how/merge_type; else the
 * user-data part default "dict(replace)+list()+str()". Throws ConfigError for a bad spec.
 */
export function mergeCloudConfig(base: Plain, next: Plain, mergeHow?: unknown): Plain {
  const taken = takeMergeHow(next);
  const specs = parseMergeHow(mergeHow ?? taken.mergeHow);
  return mergeWithSpecs(base, taken.config, specs.length > 0 ? specs : parseMergeHow(PART_MERGE_DEFAULT));
}

/** Merge with already-parsed mergers; a spec without a dict merger leaves `base` as it is. */
export function mergeWithSpecs(base: Plain, next: Plain, specs: readonly MergerSpec[]): Plain {
  const merged = new Merger(specs).merge(base, next);
  return isDict(merged) ? merged : base;
}
