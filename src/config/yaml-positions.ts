// Load YAML with js-yaml 4 and remember where each key and list item is in the
// text, so a validation problem at `users[1].shell` can name its line. js-yaml
// reports node boundaries through its `listener` option; this module turns that
// event stream into a tree of positions that mirrors the loaded value.
import { load } from 'js-yaml';
import type { Path, PathSegment } from './schema-combinators';

export interface PositionNode {
  /** 1-based line where the node's content starts. */
  readonly line: number;
  /** Source text of a scalar node (trimmed), for YAML 1.1 re-interpretation. */
  readonly raw?: string;
  /** Mapping entries by key: the key's line and the value's node. */
  readonly keys?: ReadonlyMap<string, { readonly keyLine: number; readonly value?: PositionNode }>;
  readonly items?: readonly PositionNode[];
}

export interface DuplicateKey {
  readonly path: Path;
  readonly line: number;
}

export interface LoadedYaml {
  readonly value: unknown;
  readonly root: PositionNode | undefined;
  /** Keys given twice in one mapping; the last value wins, as in cloud-init's PyYAML. */
  readonly duplicates: readonly DuplicateKey[];
}

interface Frame {
  start: number;
  end: number;
  result: unknown;
  kind: string | null;
  children: Frame[];
}

interface ListenerState {
  position: number;
  result: unknown;
  kind: string | null;
}

/** Index of line starts, for position -> line lookups. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i += 1) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function lineAt(starts: readonly number[], pos: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Skip blanks, line breaks and comments: js-yaml opens a node before skipping them. */
function skipSpace(text: string, pos: number): number {
  let i = pos;
  for (;;) {
    const ch = text[i];
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '\uFEFF') i += 1;
    else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else return i;
  }
}

/**
 * Parse YAML text (js-yaml 4, default schema). Duplicate keys do not fail the
 * load (`json: true`): PyYAML accepts them and keeps the last value, so we do
 * the same and report them. Throws js-yaml's YAMLException on a syntax error.
 */
export function loadYamlWithPositions(text: string, filename?: string): LoadedYaml {
  const stack: Frame[] = [];
  const roots: Frame[] = [];
  const listener = (event: 'open' | 'close', state: ListenerState): void => {
    if (event === 'open') {
      stack.push({ start: state.position, end: state.position, result: undefined, kind: null, children: [] });
      return;
    }
    const frame = stack.pop();
    if (!frame) return;
    frame.end = state.position;
    frame.result = state.result;
    frame.kind = state.kind;
    const parent = stack[stack.length - 1];
    (parent ? parent.children : roots).push(frame);
  };
  const value = load(text, { json: true, listener, ...(filename !== undefined ? { filename } : {}) });
  const starts = lineStarts(text);
  const duplicates: DuplicateKey[] = [];
  const rootFrame = roots[roots.length - 1];
  const root = rootFrame ? build(rootFrame, text, starts, [], duplicates) : undefined;
  return { value, root, duplicates };
}

function build(outer: Frame, text: string, starts: readonly number[], path: PathSegment[], dups: DuplicateKey[]): PositionNode {
  // A block-context node that turned out to be a flow collection or a scalar
  // (`- {a: 1}`, `- foo`) wraps one child frame holding the same value:
  // js-yaml first tries to read it as an implicit key. Use the inner frame.
  let frame = outer;
  for (;;) {
    const only = frame.children.length === 1 ? frame.children[0] : undefined;
    if (!only || only.result !== frame.result || text[skipSpace(text, only.end)] === ':') break;
    frame = only;
  }
  const contentStart = skipSpace(text, frame.start);
  const line = lineAt(starts, Math.min(contentStart, Math.max(frame.end, frame.start)));
  const r = frame.result;
  if (frame.kind === 'mapping' && typeof r === 'object' && r !== null && !Array.isArray(r)) {
    const keys = new Map<string, { keyLine: number; value?: PositionNode }>();
    // A key is the node right before a ':' (implicit `k: v`, explicit `? k` / `: v`, flow `{k: v}`).
    const isKey = (f: Frame) => text[skipSpace(text, f.end)] === ':';
    const kids = frame.children;
    for (let i = 0; i < kids.length; i += 1) {
      const k = kids[i] as Frame;
      if (!isKey(k)) continue;
      const name = String(k.result);
      const keyLine = lineAt(starts, skipSpace(text, k.start));
      const next = kids[i + 1];
      let value: PositionNode | undefined;
      if (next && !isKey(next)) {
        value = build(next, text, starts, [...path, name], dups);
        i += 1;
      }
      if (keys.has(name)) dups.push({ path: [...path, name], line: keyLine });
      keys.set(name, value ? { keyLine, value } : { keyLine });
    }
    return { line, keys };
  }
  if (frame.kind === 'sequence' && Array.isArray(r)) {
    // Block sequences compose exactly one node per item; flow pairs ([a: b]) do not.
    if (frame.children.length !== r.length) return { line };
    const items = frame.children.map((c, i) => build(c, text, starts, [...path, i], dups));
    return { line, items };
  }
  if (frame.kind === 'scalar') {
    return { line, raw: text.slice(contentStart, Math.max(contentStart, frame.end)).trim() };
  }
  return { line };
}

/** The node at a path, or undefined when the path leaves the recorded tree. */
export function nodeAt(root: PositionNode | undefined, path: Path): PositionNode | undefined {
  let node = root;
  for (const seg of path) {
    if (!node) return undefined;
    if (typeof seg === 'number') node = node.items?.[seg];
    else node = node.keys?.get(seg)?.value;
  }
  return node;
}

/**
 * The line to report for a path: the key's line for a mapping entry, the item's
 * line for a list entry; the deepest known ancestor when the path goes further
 * than the recorded tree (aliases, merge keys).
 */
export function lineOf(root: PositionNode | undefined, path: Path): number | undefined {
  if (!root) return undefined;
  let node: PositionNode | undefined = root;
  let line = root.line;
  for (const seg of path) {
    if (!node) break;
    if (typeof seg === 'number') {
      const item: PositionNode | undefined = node.items?.[seg];
      if (!item) break;
      line = item.line;
      node = item;
    } else {
      const entry: { readonly keyLine: number; readonly value?: PositionNode } | undefined = node.keys?.get(seg);
      if (!entry) break;
      line = entry.keyLine;
      node = entry.value;
    }
  }
  return line;
}
