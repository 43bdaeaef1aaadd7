#!/usr/bin/env node
// Where a unit's time goes in the guest: start-up floors under TCG. Boots the
// guestctx disk of the side-by-side comparison (bench/vm-compare.mjs, same
// cached image, same NoCloud seed) once; when boot has settled, a probe
// replaces the report script and times, in the guest:
//   - warm starts (3 each): /bin/true, python3 -c pass, cloud-init's import,
//     guestctx --version, guestctx status, guestctx run --dry-run;
//   - cold starts (page cache dropped before each): the same, once;
//   - how much of the executable a cold start reads (fincore);
//   - the boot's own units: ExecMain times, CPU time, when each stage began
//     after its process started (status.json sinceProcessStartMs), and each
//     unit's start-up marks (GUESTCTX_TRACE_STARTUP=1 through a drop-in).
// Prints JSON and writes bench/results/vm-startup.json.
//
//   node bench/vm-startup.mjs      (root, qemu; after npm run package)
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WAIT_FOR_AGENTS_SH, ensureImages, vmLib } from './vm-compare.mjs';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const VM_STARTUP_RESULTS = path.join(TOP, 'bench/results/vm-startup.json');

export function saveVmStartup(r) {
  mkdirSync(path.dirname(VM_STARTUP_RESULTS), { recursive: true });
  writeFileSync(VM_STARTUP_RESULTS, `${JSON.stringify(r, null, 2)}\n`);
}

const PROBE = `#!/bin/sh
# Wait for the boot to settle (the agent's units done), as the report does.
${WAIT_FOR_AGENTS_SH}sleep 2
ms() { s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
row() { kind=$1; label=$2; shift 2
  if [ "$kind" = cold ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
  echo "$kind|$label|$(ms "$@")"; }
{
echo "@@PROBE-BEGIN@@"
systemctl show -p Id -p ExecMainStartTimestampMonotonic -p ExecMainExitTimestampMonotonic -p CPUUsageNSec -p ConditionResult guestctx-local.service guestctx.service guestctx-final.service | sed 's/^/unit|/'
guestctx status --json | tr -d '\\n' | sed 's/^/status|/'; echo
systemd-analyze critical-chain multi-user.target 2>/dev/null | sed 's/^/chain|/'
for u in guestctx-local guestctx guestctx-final; do
  journalctl -b -u $u.service -o cat --no-pager 2>/dev/null | grep 'start-up:' | sed "s/^/trace|$u|/"
done
for label in true python-pass cloudinit-import guestctx-version guestctx-status guestctx-dry-run; do
  for kind in cold warm warm warm; do
    case $label in
      true) row $kind $label /bin/true ;;
      python-pass) row $kind $label python3 -c pass ;;
      cloudinit-import) row $kind $label python3 -c 'import cloudinit.cmd.main' ;;
      guestctx-version) row $kind $label guestctx --version ;;
      guestctx-status) row $kind $label guestctx status ;;
      guestctx-dry-run) row $kind $label guestctx run --dry-run ;;
    esac
  done
done
sync; echo 3 >/proc/sys/vm/drop_caches; guestctx --version >/dev/null
echo "fincore|$(fincore -b -n -o RES,SIZE /usr/bin/guestctx)"
echo "@@PROBE-END@@"
} >/dev/ttyS0 2>&1
systemctl poweroff --no-block
`;

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : undefined;
}

export function parseProbe(text) {
  const body = /@@PROBE-BEGIN@@\n([\s\S]*?)@@PROBE-END@@/.exec(text.replace(/\r/g, ''))?.[1];
  if (body === undefined) return undefined;
  const starts = {};
  const units = {};
  let block = {};
  const flush = () => {
    if (block.Id) units[block.Id] = block;
    block = {};
  };
  let status;
  let fincore;
  let chain;
  let traces;
  for (const line of body.split('\n')) {
    const [tag, ...rest] = line.split('|');
    if (tag === 'cold' || tag === 'warm') {
      const [label, ms] = rest;
      const e = (starts[label] ??= { coldMs: undefined, warmMs: [] });
      if (tag === 'cold') e.coldMs = Number(ms);
      else e.warmMs.push(Number(ms));
    } else if (tag === 'unit') {
      // Blocks of KEY=value lines, one per unit, separated by a blank line.
      const kv = rest.join('|');
      const i = kv.indexOf('=');
      if (i > 0) block[kv.slice(0, i)] = kv.slice(i + 1);
      else flush();
    } else if (tag === 'status') {
      try {
        status = JSON.parse(rest.join('|'));
      } catch {
        status = undefined;
      }
    } else if (tag === 'trace') {
      const [unit, ...text] = rest;
      (traces ??= {})[unit] = text.join('|').replace(/^guestctx: start-up: /, '');
    } else if (tag === 'chain') {
      (chain ??= []).push(rest.join('|').replace(/\x1b\[[0-9;]*m/g, ''));
    } else if (tag === 'fincore') {
      const [res, size] = rest.join('|').trim().split(/\s+/).map(Number);
      fincore = { residentBytes: res, sizeBytes: size };
    }
  }
  flush();
  for (const v of Object.values(starts)) v.warmMedianMs = median(v.warmMs);
  const stages = Object.fromEntries(Object.entries(status?.stages ?? {}).map(([name, s]) => [name, { sinceProcessStartMs: s.sinceProcessStartMs, durationMs: s.durationMs, result: s.result }]));
  return { starts, units, stages, fincore, startupTraces: traces, criticalChain: chain };
}

export async function runVmStartup({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const lib = await vmLib();
  if (process.getuid?.() !== 0) return { pending: 'needs root (loop mounts)' };
  const version = JSON.parse(readFileSync(path.join(TOP, 'package.json'), 'utf8')).version;
  const deb = path.join(TOP, `dist/guestctx_${version}-1_amd64.deb`);
  if (!existsSync(deb)) return { pending: `${path.relative(TOP, deb)} is missing (npm run package first)` };
  const images = ensureImages(lib, deb, log);
  const work = path.join(process.env.BENCH_VM_WORK ?? '/var/tmp/guestctx-bench-vm', `startup-${Date.now()}`);
  mkdirSync(work, { recursive: true });
  const disk = lib.copyDisk(images.disks.guestctx, path.join(work, 'disk.raw'));
  lib.withWritableDisk(disk, path.join(work, 'mnt'), (mnt) => {
    // The comparison's report unit runs whatever this file is: the probe instead, this once.
    writeFileSync(path.join(mnt, 'usr/local/sbin/bench-report'), PROBE);
    chmodSync(path.join(mnt, 'usr/local/sbin/bench-report'), 0o755);
    // Each agent unit prints its start-up marks (GUESTCTX_TRACE_STARTUP) into the journal.
    for (const unit of ['guestctx-local', 'guestctx', 'guestctx-final']) {
      mkdirSync(path.join(mnt, `etc/systemd/system/${unit}.service.d`), { recursive: true });
      writeFileSync(path.join(mnt, `etc/systemd/system/${unit}.service.d/trace-startup.conf`), '[Service]\nEnvironment=GUESTCTX_TRACE_STARTUP=1\n');
    }
  });
  const seed = {
    'meta-data': 'instance-id: iid-bench-startup\nlocal-hostname: bench-vm\n',
    'user-data': '#cloud-config\nhostname: bench-vm\nwrite_files:\n  - path: /etc/bench-write-files\n    content: "written from user-data\\n"\nruncmd:\n  - [sh, -c, "true"]\n',
  };
  const iso = lib.makeIso({ label: 'cidata', files: seed, dir: path.join(work, 'seed'), out: path.join(work, 'seed.iso') });
  log('vm-startup: booting the guestctx disk with the start-up probe (TCG, ~1.5 min)');
  const r = await new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', lib.qemuArgs({ kernel: images.kernel, initrd: images.initrd, disk, seedIso: iso, nics: [{ mac: '02:00:0a:00:05:01' }], accel: 'tcg' }), { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.stdout.on('data', (b) => (text += b));
    child.stderr.on('data', (b) => (text += b));
    child.on('error', (err) => reject(err));
    child.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  const probe = parseProbe(r);
  if (probe) rmSync(work, { recursive: true, force: true });
  else writeFileSync(path.join(work, 'console.log'), r);
  return probe ? { finishedAt: new Date().toISOString(), accel: 'tcg', ...probe } : { error: `no probe output; console in ${work}/console.log` };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runVmStartup().then(
    (r) => {
      if (r.starts) saveVmStartup(r);
      console.log(JSON.stringify(r, null, 2));
    },
    (err) => console.error(`vm-startup: ${err.stack ?? err.message}`),
  );
}
