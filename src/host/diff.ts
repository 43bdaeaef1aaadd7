// Unified diffs for --dry-run: what a file would look like after guestctx ran.
// Configuration files are small, so a plain longest-common-subsequence table is
// enough; past a size bound the diff degrades to "replace all lines".

const MAX_CELLS = 4_000_000;
const CONTEXT = 3;

type Op = { kind: ' ' | '-' | '+'; line: string };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function diffOps(a: string[], b: string[]): Op[] {
  if (a.length * b.length > MAX_CELLS) {
    return [...a.map((line) => ({ kind: '-' as const, line })), ...b.map((line) => ({ kind: '+' as const, line }))];
  }
  // lcs[i][j] = length of the LCS of a[i..] and b[j..], stored row-major.
  const w = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? (lcs[(i + 1) * w + j + 1] as number) + 1 : Math.max(lcs[(i + 1) * w + j] as number, lcs[i * w + j + 1] as number);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i] as string });
      i++;
      j++;
    } else if ((lcs[(i + 1) * w + j] as number) >= (lcs[i * w + j + 1] as number)) {
      ops.push({ kind: '-', line: a[i++] as string });
    } else {
      ops.push({ kind: '+', line: b[j++] as string });
    }
  }
  while (i < a.length) ops.push({ kind: '-', line: a[i++] as string });
  while (j < b.length) ops.push({ kind: '+', line: b[j++] as string });
  return ops;
}

/** A unified diff of two texts; empty string when they are equal. */
export function unifiedDiff(oldText: string, newText: string, oldName: string, newName: string): string {
  if (oldText === newText) return '';
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const ops = diffOps(a, b);
  const out: string[] = [`--- ${oldName}`, `+++ ${newName}`];
  // Walk the ops, emitting hunks of changes with CONTEXT lines around them.
  let k = 0;
  let aLine = 1;
  let bLine = 1;
  while (k < ops.length) {
    if ((ops[k] as Op).kind === ' ') {
      k++;
      aLine++;
      bLine++;
      continue;
    }
    const start = Math.max(0, k - CONTEXT);
    let end = k;
    // Extend the hunk while changes are within 2*CONTEXT lines of each other.
    let lastChange = k;
    while (end < ops.length) {
      if ((ops[end] as Op).kind !== ' ') lastChange = end;
      else if (end - lastChange > 2 * CONTEXT) break;
      end++;
    }
    end = Math.min(ops.length, lastChange + CONTEXT + 1);
    const lead = k - start;
    const hunk = ops.slice(start, end);
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    const aStart = aLine - lead;
    const bStart = bLine - lead;
    out.push(`@@ -${aCount === 0 ? aStart - 1 : aStart},${aCount} +${bCount === 0 ? bStart - 1 : bStart},${bCount} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
    for (let m = k; m < end; m++) {
      const kind = (ops[m] as Op).kind;
      if (kind !== '+') aLine++;
      if (kind !== '-') bLine++;
    }
    k = end;
  }
  if (!newText.endsWith('\n') && newText !== '') out.push('\\ No newline at end of file');
  return `${out.join('\n')}\n`;
}
