// --dry-run output: a unified diff for every file guestctx would write, and
// every directory, removal and command it would make or run. Secret files
// (scripts, instance data) are shown by size only.
import type { Change } from '../host/host';
import { unifiedDiff } from '../host/diff';

function isText(b: Buffer): boolean {
  return !b.subarray(0, 8192).includes(0);
}

export function renderDryRun(changes: readonly Change[]): string {
  const out: string[] = [];
  for (const c of changes) {
    switch (c.kind) {
      case 'write': {
        const mode = c.mode.toString(8).padStart(4, '0');
        const owner = c.owner ?? 'root';
        if (c.secret || !isText(c.after) || (c.before && !isText(c.before))) {
          out.push(`=== ${c.path} (${c.before ? 'replace' : 'create'}, mode ${mode}, owner ${owner}): ${c.secret ? 'secret' : 'binary'} content, ${c.after.length} bytes\n`);
          break;
        }
        out.push(`=== ${c.path} (${c.before ? 'replace' : 'create'}, mode ${mode}, owner ${owner})\n`);
        out.push(unifiedDiff(c.before?.toString('utf8') ?? '', c.after.toString('utf8'), c.before ? `a${c.path}` : '/dev/null', `b${c.path}`) || '(content unchanged; mode or owner changes)\n');
        break;
      }
      case 'mkdir':
        out.push(`=== mkdir ${c.path} (mode ${c.mode.toString(8).padStart(4, '0')}, owner ${c.owner ?? 'root'})\n`);
        break;
      case 'remove':
        out.push(`=== remove ${c.path}\n`);
        break;
      case 'command':
        out.push(`=== ${c.ran ? 'ran' : 'would run'}: ${c.argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')}\n`);
        break;
    }
  }
  return out.length === 0 ? 'dry run: nothing would change\n' : out.join('');
}
