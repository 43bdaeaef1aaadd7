// Fuzz target: the user-space ISO9660 reader (Joliet, Rock Ridge) on hostile
// images. Seeds are real images made by xorriso (plain, Joliet, Rock Ridge,
// both, with a symlink and nesting); the walk lists, stats and reads all of it.
import { mkdirSync, symlinkSync, cpSync } from 'node:fs';
import path from 'node:path';
import { openIso9660, probeIso9660Label } from '../../../src/media/iso9660';
import { bufferSource } from '../../../src/media/volume';
import { REPO } from '../support';
import { run, trimmed, walkVolume, withScratch } from '../media-walk';

export const binary = true;
export const maxLen = 1024 * 1024;
export const tokens = ['CD001', '\x01CD001\x01', 'RR', 'PX', 'NM', 'SL', 'CE', 'SP\x07\x01\xbe\xef', 'ER', 'ZF', 'TF', ';1', '\0\0\0\0'];

export function seeds(): Buffer[] {
  return withScratch((dir) => {
    const tree = path.join(dir, 'tree');
    cpSync(path.join(REPO, 'test/fixtures/media/iso/tree'), tree, { recursive: true });
    mkdirSync(path.join(tree, 'a/b/c/d'), { recursive: true });
    symlinkSync('../context.sh', path.join(tree, 'nested/link-to-context'));
    symlinkSync('/etc/passwd', path.join(tree, 'abs-link'));
    const out: Buffer[] = [];
    const variants: [string, string[]][] = [
      ['plain', ['--norock']],
      ['joliet', ['-J', '--norock']],
      ['rr', ['-r']],
      ['both', ['-J', '-R']],
    ];
    for (const [name, flags] of variants) {
      const iso = path.join(dir, `${name}.iso`);
      run('xorriso', ['-as', 'mkisofs', '-quiet', '-no-pad', '-o', iso, '-V', 'CONTEXT', ...flags, tree]);
      out.push(trimmed(iso));
    }
    return out;
  });
}

export async function fuzz(data: Buffer): Promise<void> {
  const src = bufferSource('fuzz.iso', data);
  await probeIso9660Label(src);
  await walkVolume(await openIso9660(src));
}
