// JSON Patch (RFC 6902) over JSON Pointers (RFC 6901), for #cloud-config-jsonp parts.
// A patch applies atomically: it works on a copy and the caller gets either the fully
// patched document or an error naming the operation that failed.
import { ParseError } from '../errors';

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

type Container = Record<string, unknown> | unknown[];

class PatchFailure extends Error {}

/** Split a JSON Pointer into unescaped reference tokens ("" is the whole document). */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchFailure(`JSON pointer "${pointer}" must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~(?![01])/.test(t)) throw new PatchFailure(`JSON pointer "${pointer}" has an invalid ~ escape`);
      return t.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as T;
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setOwn(out, k, clone(x));
    return out as T;
  }
  return v;
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function has(obj: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => has(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** An array index token: digits without leading zeros; "-" only where the caller allows it. */
function arrayIndex(token: string, length: number, forAdd: boolean, pointer: string): number {
  if (forAdd && token === '-') return length;
  if (!/^(?:0|[1-9][0-9]*)$/.test(token)) throw new PatchFailure(`"${token}" in "${pointer}" is not an array index`);
  const i = Number(token);
  if (i > length || (!forAdd && i === length)) throw new PatchFailure(`index ${i} in "${pointer}" is out of range`);
  return i;
}

/** The parent container and last token of a pointer that names something inside the document. */
function resolveParent(doc: unknown, pointer: string): { parent: Container; key: string } {
  const tokens = parsePointer(pointer);
  const key = tokens.pop();
  if (key === undefined) throw new PatchFailure('the root has no parent');
  let node: unknown = doc;
  for (const t of tokens) {
    if (Array.isArray(node)) node = node[arrayIndex(t, node.length, false, pointer)];
    else if (isObject(node) && has(node, t)) node = node[t];
    else throw new PatchFailure(`path "${pointer}" does not exist`);
  }
  if (!Array.isArray(node) && !isObject(node)) throw new PatchFailure(`path "${pointer}" does not name a container`);
  return { parent: node, key };
}

function getValue(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const t of parsePointer(pointer)) {
    if (Array.isArray(node)) node = node[arrayIndex(t, node.length, false, pointer)];
    else if (isObject(node) && has(node, t)) node = node[t];
    else throw new PatchFailure(`path "${pointer}" does not exist`);
  }
  return node;
}

function add(doc: unknown, pointer: string, value: unknown): unknown {
  if (pointer === '') return value;
  const { parent, key } = resolveParent(doc, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(key, parent.length, true, pointer), 0, value);
  else setOwn(parent, key, value);
  return doc;
}

function remove(doc: unknown, pointer: string): { doc: unknown; removed: unknown } {
  if (pointer === '') throw new PatchFailure('cannot remove the whole document');
  const { parent, key } = resolveParent(doc, pointer);
  if (Array.isArray(parent)) {
    const [removed] = parent.splice(arrayIndex(key, parent.length, false, pointer), 1);
    return { doc, removed };
  }
  if (!has(parent, key)) throw new PatchFailure(`path "${pointer}" does not exist`);
  const removed = parent[key];
  delete parent[key];
  return { doc, removed };
}

function stringField(op: Record<string, unknown>, name: string): string {
  const v = op[name];
  if (typeof v !== 'string') throw new PatchFailure(`"${name}" must be a string`);
  return v;
}

function applyOne(doc: unknown, op: Record<string, unknown>): unknown {
  const kind = op['op'];
  const path = stringField(op, 'path');
  switch (kind) {
    case 'add':
    case 'replace':
    case 'test':
      if (!has(op, 'value')) throw new PatchFailure(`"${kind}" needs a "value"`);
      break;
  }
  switch (kind) {
    case 'add':
      return add(doc, path, clone(op['value']));
    case 'remove':
      return remove(doc, path).doc;
    case 'replace':
      if (path === '') return clone(op['value']);
      getValue(doc, path); // must exist
      return add(remove(doc, path).doc, path, clone(op['value']));
    case 'move': {
      const from = stringField(op, 'from');
      if (path === from) return doc;
      if (path.startsWith(`${from}/`)) throw new PatchFailure(`cannot move "${from}" into its own child "${path}"`);
      const { doc: rest, removed } = remove(doc, from);
      return add(rest, path, removed);
    }
    case 'copy':
      return add(doc, path, clone(getValue(doc, stringField(op, 'from'))));
    case 'test':
      if (!deepEqual(getValue(doc, path), op['value'])) throw new PatchFailure(`test failed: "${path}" differs`);
      return doc;
    default:
      throw new PatchFailure(`unknown op ${JSON.stringify(kind)}`);
  }
}

/**
 * Apply a patch to a copy of `doc`. Throws ParseError (source `${source} op N`) when the
 * patch is malformed or an operation fails; `doc` is never modified.
 */
export function applyJsonPatch(doc: unknown, patch: unknown, source: string): unknown {
  if (!Array.isArray(patch)) throw new ParseError(source, 'a JSON patch must be a list of operations');
  let out = clone(doc);
  patch.forEach((op, i) => {
    try {
      if (!isObject(op)) throw new PatchFailure('operation must be an object');
      out = applyOne(out, op);
    } catch (err) {
      if (!(err instanceof PatchFailure)) throw err;
      throw new ParseError(`${source} op ${i}`, `JSON patch operation ${i} failed: ${err.message}`, { cause: err });
    }
  });
  return out;
}
