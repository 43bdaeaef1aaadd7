// npm run demo: contextualize a throwaway guest root from the bundled
// OpenNebula example (examples/opennebula/context.sh) and show what changed.
// First a --dry-run (the diff of every file), then the real run, then a
// second run that changes nothing, then `guestctx status`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeSampleRoot } from './sample-guest.mjs';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(top, 'dist/guestctx.cjs');
const seed = path.join(top, 'examples/opennebula');
const root = mkdtempSync(path.join(os.tmpdir(), 'guestctx-demo-'));

// A minimal Debian-like guest with one NIC (the MAC the example's ETH0_MAC names) and ifupdown.
makeSampleRoot(root);

const run = (title, args) => {
  console.log(`\n\x1b[1m$ guestctx ${args.join(' ')}\x1b[0m   # ${title}`);
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit' });
  return r.status;
};

console.log(`guestctx demo: guest root ${root}, context from ${path.relative(top, seed)}/context.sh`);
run('show what would change, change nothing', ['run', '--root', root, '--seed', seed, '--dry-run']);
const code = run('contextualize the guest', ['run', '--root', root, '--seed', seed]);
console.log('\n\x1b[1mWhat changed in the guest:\x1b[0m');
for (const p of ['etc/hostname', 'etc/hosts', 'home/debian/.ssh/authorized_keys', 'etc/network/interfaces.d/guestctx', 'etc/resolv.conf']) {
  const s = statSync(path.join(root, p));
  console.log(`--- /${p} (mode ${(s.mode & 0o7777).toString(8)}, uid ${s.uid})`);
  console.log(readFileSync(path.join(root, p), 'utf8').replace(/(ssh-\S+ \S{20})\S+/g, '$1...').trimEnd());
}
run('a second boot of the same instance changes nothing', ['run', '--root', root, '--seed', seed]);
run('what ran, how long, what failed', ['status', '--root', root]);
console.log(`\nThe start script is reported as skipped: it is a program for the guest and this demo root has no shell.\nInside a real guest (or a root with /bin/sh) it runs once per instance. Guest root left at ${root}`);
execFileSync('true');
process.exitCode = code === 0 ? 0 : 1;
