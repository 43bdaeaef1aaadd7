import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { unifiedDiff } from '../../src/host/diff';

/** Apply our diff with the real `patch` and check it reproduces the new text. */
function roundTrip(a: string, b: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'diff-'));
  try {
    writeFileSync(path.join(dir, 'f'), a);
    writeFileSync(path.join(dir, 'p'), unifiedDiff(a, b, 'a/f', 'b/f'));
    execFileSync('patch', ['-s', '-p1', '-i', path.join(dir, 'p')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    return execFileSync('cat', [path.join(dir, 'f')]).toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('a\n', 'a\n', 'a', 'b')).toBe('');
  });
  it('shows a replaced line with context', () => {
    expect(unifiedDiff('1\n2\n3\n', '1\nX\n3\n', 'a/f', 'b/f')).toBe('--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n 1\n-2\n+X\n 3\n');
  });
  it('shows a new file', () => {
    expect(unifiedDiff('', 'x\ny\n', '/dev/null', 'b/f')).toBe('--- /dev/null\n+++ b/f\n@@ -0,0 +1,2 @@\n+x\n+y\n');
  });
  it('round-trips through patch(1) for random line edits', () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', ''), { maxLength: 30 });
    fc.assert(
      fc.property(lines, lines, (x, y) => {
        const a = x.length ? `${x.join('\n')}\n` : '';
        const b = y.length ? `${y.join('\n')}\n` : '';
        if (a === b || a === '') return;
        expect(roundTrip(a, b)).toBe(b);
      }),
      { numRuns: 60 },
    );
  });
});
