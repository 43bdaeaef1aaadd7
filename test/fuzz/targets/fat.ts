// Fuzz target: the user-space FAT12/16/32 reader on hostile images. Seeds are
// real images made by mkfs.fat and mcopy from the media fixtures (long names,
// nested folders), cut after their last used block to keep inputs small.
import path from 'node:path';
import { openFat, probeFatLabel } from '../../../src/media/fat';
import { bufferSource } from '../../../src/media/volume';
import { REPO } from '../support';
import { entriesOf, run, trimmed, walkVolume, withScratch } from '../media-walk';

export const binary = true;
export const maxLen = 1024 * 1024;
export const tokens = ['FAT12   ', 'FAT16   ', 'FAT32   ', '\x55\xaa', '\xe5', '\x0f\0', 'NO NAME    ', '\xff\xff\xff\x0f', '\xf8\xff\xff\x0f'];

const ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };

export function seeds(): Buffer[] {
  return withScratch((dir) => {
    const out: Buffer[] = [];
    const shapes: [string, string[], number, string][] = [
      ['fat12', [], 360, 'names'],
      ['fat16', ['-F', '16', '-s', '1'], 2600, 'config-drive'],
      ['fat32', ['-F', '32', '-s', '1'], 34000, 'nocloud'],
    ];
    for (const [name, flags, kib, fixture] of shapes) {
      const img = path.join(dir, `${name}.img`);
      run('mkfs.fat', ['-C', ...flags, '-n', 'CIDATA', img, String(kib)], ENV);
      run('mcopy', ['-s', '-i', img, ...entriesOf(path.join(REPO, 'test/fixtures/media/fat', fixture)), '::/'], ENV);
      out.push(trimmed(img));
    }
    return out;
  });
}

export async function fuzz(data: Buffer): Promise<void> {
  const src = bufferSource('fuzz.img', data);
  await probeFatLabel(src);
  await walkVolume(await openFat(src));
}
