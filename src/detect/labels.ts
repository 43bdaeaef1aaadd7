// Filesystem labels of the guest's block devices, listed once per run.
// udev's /dev/disk/by-label is read as a folder (cheap, and a fixture folder
// fakes it); only without it is `blkid` asked, once, for every device. Devices
// are never opened one by one to guess: a CD drive costs ~0.1 s and a floppy
// seconds.
import type { Host } from '../host/host';

export interface LabelIndex {
  /** Guest device path for a label, trying the spellings given in order. */
  find(...labels: string[]): string | undefined;
  readonly evidence: string;
  readonly all: ReadonlyMap<string, string>;
}

/** udev escapes unsafe characters in by-label names as \xHH. */
function unescapeUdev(name: string): string {
  return name.replace(/\\x([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function index(all: Map<string, string>, evidence: string): LabelIndex {
  return {
    all,
    evidence,
    find(...labels: string[]) {
      for (const l of labels) {
        const dev = all.get(l);
        if (dev !== undefined) return dev;
      }
      return undefined;
    },
  };
}

export async function listLabels(host: Host): Promise<LabelIndex> {
  const dir = '/dev/disk/by-label';
  if (await host.exists(dir)) {
    const all = new Map<string, string>();
    for (const name of await host.list(dir)) all.set(unescapeUdev(name), `${dir}/${name}`);
    return index(all, `${dir} lists ${all.size} label(s)`);
  }
  if (!host.live || (await host.which('blkid')) === undefined) return index(new Map(), `no ${dir} and no blkid to ask`);
  const res = await host.run('blkid', ['-o', 'export'], { readOnly: true, timeoutMs: 5000 });
  const all = new Map<string, string>();
  // blkid -o export prints KEY=value blocks separated by blank lines.
  for (const block of res.stdout.split(/\n\s*\n/)) {
    const dev = /^DEVNAME=(.*)$/m.exec(block)?.[1];
    const label = /^LABEL=(.*)$/m.exec(block)?.[1];
    if (dev !== undefined && label !== undefined) all.set(label, dev);
  }
  return index(all, `blkid found ${all.size} labelled device(s)`);
}
