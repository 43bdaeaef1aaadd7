#!/usr/bin/env node
// Section 5: guestctx against cloud-init in the same real guest. One Debian
// image (the VM tests' cached base rootfs, test/vm/lib) with BOTH agents
// installed: the project's .deb and Debian's cloud-init. Two disks differ by
// one flag file: /etc/guestctx/disabled (cloud-init runs) or
// /etc/cloud/cloud-init.disabled (guestctx runs). Each boots once with the
// same NoCloud seed (hostname, one SSH key, write_files, a runcmd marker) and
// once with no datasource. Reported per boot: the sum of the agent's systemd
// unit times (ExecMainStart -> ExecMainExit), SSH host key generation
// separately, power-on to the runcmd marker and to multi-user.target.
//
//   node bench/vm-compare.mjs          (or BENCH_VM=1 npm run bench)
//
// Needs root, qemu-system-x86_64, debootstrap, xorriso, e2fsprogs, the .deb in
// dist/ and network access to the Debian mirror (apt-get install cloud-init in
// the image, once; the result is cached next to the VM tests' base image).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VM_LIB = path.join(TOP, 'test/vm/lib');

/** cloud-init's own stages on this kind of machine, from `cloud-init analyze show` (VM-NOTES.md). */
export const CLOUD_INIT_REFERENCE = {
  source: 'VM-NOTES.md: one TCG boot, cloud-init analyze show',
  initLocalS: 3.6,
  initNetworkS: 13.5,
  sshKeygenS: 9,
  modulesConfigS: 4.5,
  totalS: 21.6,
};

const RECIPE_VERSION = 3; // bump when the image steps below change
const MARKER = 'BENCH-RUNCMD-42';
const UP_MARKER = 'BENCH-UPTIME';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID7EabcGIBhHST2sG+x7BFe+gxudNLu4moZZnyTmWRdZ bench-key';
const AGENT_UNITS = {
  'cloud-init': ['cloud-init-local.service', 'cloud-init.service', 'cloud-config.service', 'cloud-final.service'],
  guestctx: ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'],
};
const MAC = '02:00:0a:00:05:01';

/** The NoCloud seed both agents read. */
function seedFiles() {
  return {
    'meta-data': 'instance-id: iid-bench-vm-01\nlocal-hostname: bench-vm\n',
    'user-data': [
      '#cloud-config',
      'hostname: bench-vm',
      'ssh_authorized_keys:',
      `  - ${KEY}`,
      'write_files:',
      '  - path: /etc/bench-write-files',
      '    permissions: "0644"',
      '    content: |',
      '      written from user-data',
      'runcmd:',
      // $((6*7)): the marker appears on the console only when the command ran, never as an echo of the config.
      `  - [sh, -c, "cut -d' ' -f1 /proc/uptime > /var/lib/bench-runcmd; echo BENCH-RUNCMD-$((6*7)) > /dev/ttyS0"]`,
      '',
    ].join('\n'),
  };
}

/** Shell: wait (at most 280 s) until multi-user.target is reached and no job of either agent is queued. */
export const WAIT_FOR_AGENTS_SH = `i=0
while [ $i -lt 280 ]; do
  if [ "$(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target)" != 0 ] &&
     ! systemctl list-jobs --no-legend 2>/dev/null | grep -Eq 'cloud-|guestctx'; then break; fi
  sleep 1; i=$((i+1))
done
`;

/** Runs in the guest once boot is over: timings to the console and the disk, then power-off. */
const REPORT_SCRIPT = `#!/bin/sh
# bench-report: a Type=simple unit, so it does not hold up the boot it measures.
echo "${UP_MARKER} $(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS0
# Wait for multi-user.target (not is-system-running --wait: with cloud-init the
# system can stay "starting" for minutes on a job that matters to neither agent).
# Then until no start job of either agent is queued (cloud-final runs after multi-user.target).
${WAIT_FOR_AGENTS_SH}OUT=/var/lib/bench-report
rm -rf "$OUT"; mkdir -p "$OUT"
systemctl show -p Id -p ActiveState -p Result -p ExecMainStatus -p ExecMainStartTimestampMonotonic -p ExecMainExitTimestampMonotonic \\
  ${[...AGENT_UNITS['cloud-init'], ...AGENT_UNITS.guestctx, 'ssh.service'].join(' ')} >"$OUT/units" 2>&1
systemctl show -p ActiveEnterTimestampMonotonic multi-user.target >"$OUT/multi-user" 2>&1
cat /proc/uptime >"$OUT/uptime"
hostname >"$OUT/hostname"
command -v cloud-init >/dev/null && cloud-init analyze blame >"$OUT/ci-blame" 2>&1
command -v cloud-init >/dev/null && cloud-init analyze show >"$OUT/ci-show" 2>&1
guestctx status --json >"$OUT/guestctx-status" 2>&1
systemctl --failed --no-legend --plain >"$OUT/failed" 2>&1
# Start-up floors once the boot has settled (warm page cache): 3 runs each, in ms.
for what in '/bin/true' 'guestctx --version' 'python3 -c pass'; do
  for i in 1 2 3; do
    s=$(date +%s%N); $what >/dev/null 2>&1; e=$(date +%s%N)
    echo "$what|$(( (e - s) / 1000000 ))"
  done
done >"$OUT/startup"
sync
for f in "$OUT"/*; do printf '\\n@@BENCH-BEGIN %s@@\\n' "\${f##*/}"; cat "$f"; printf '\\n@@BENCH-END %s@@\\n' "\${f##*/}"; done >/dev/ttyS0 2>&1
sync
systemctl poweroff --no-block
`;

const REPORT_UNIT = `[Unit]
Description=guestctx benchmark report (timings, then power-off)
# No After= on either agent's final unit: cloud-final is ordered after
# multi-user.target (a cycle systemd would break by dropping this job), and
# After=guestctx-final.service would put guestctx's final stage on the path to
# multi-user.target, which cloud-init's is not. The script waits for both.

[Service]
Type=simple
ExecStart=/usr/local/sbin/bench-report

[Install]
WantedBy=multi-user.target
`;

export async function vmLib() {
  const [base, guest, proc, qemu, report, seed] = await Promise.all(
    ['base-image', 'guest-image', 'proc', 'qemu', 'report', 'seed'].map((n) => import(path.join(VM_LIB, `${n}.mjs`))),
  );
  return { ...base, ...guest, ...proc, ...qemu, ...report, ...seed };
}

function sha256File(f) {
  return createHash('sha256').update(readFileSync(f)).digest('hex');
}

/**
 * The two disks (cached): base rootfs + guestctx .deb + cloud-init from the
 * Debian mirror + the report unit; one disk per enabled agent.
 */
export function ensureImages(lib, deb, log) {
  const base = lib.ensureBaseRootfs();
  const key = createHash('sha256').update(JSON.stringify({ v: RECIPE_VERSION, base: base.key, deb: sha256File(deb), report: REPORT_SCRIPT, unit: REPORT_UNIT })).digest('hex').slice(0, 16);
  const dir = path.join(lib.CACHE_ROOT, `bench-compare-${key}`);
  const disks = { 'cloud-init': path.join(dir, 'disk-cloud-init.raw'), guestctx: path.join(dir, 'disk-guestctx.raw') };
  if (existsSync(path.join(dir, 'complete'))) {
    log(`vm: images cached in ${dir}`);
    return { dir, disks, kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), cached: true };
  }
  const tmp = `${dir}.building-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const rootfs = path.join(tmp, 'rootfs');
  log('vm: copying the base rootfs');
  lib.run('cp', ['-a', '--reflink=auto', base.rootfs, rootfs], { quiet: true });
  copyFileSync(deb, path.join(rootfs, 'tmp/guestctx.deb'));
  // The build host's resolver for apt inside the chroot; the guest gets an empty one back below.
  rmSync(path.join(rootfs, 'etc/resolv.conf'), { force: true });
  copyFileSync('/etc/resolv.conf', path.join(rootfs, 'etc/resolv.conf'));
  log('vm: dpkg -i guestctx, apt-get install cloud-init (a few minutes)');
  lib.withChrootMounts(rootfs, () => {
    lib.run('chroot', [rootfs, 'dpkg', '-i', '/tmp/guestctx.deb'], { quiet: true });
    lib.run('chroot', [rootfs, 'apt-get', 'update', '-q'], { quiet: true, timeoutMs: 15 * 60_000 });
    // python3-cffi-backend first: debootstrap cannot resolve its virtual packages (VM-NOTES.md).
    lib.run('chroot', [rootfs, 'apt-get', 'install', '-y', '-q', '--no-install-recommends', 'python3-cffi-backend', 'cloud-init'], {
      quiet: true,
      timeoutMs: 20 * 60_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    lib.run('chroot', [rootfs, 'apt-get', 'clean'], { quiet: true });
  });
  rmSync(path.join(rootfs, 'tmp/guestctx.deb'), { force: true });
  rmSync(path.join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
  mkdirSync(path.join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
  writeFileSync(path.join(rootfs, 'etc/resolv.conf'), '# bench: no nameserver configured\n');
  writeFileSync(path.join(rootfs, 'etc/fstab'), '/dev/vda / ext4 defaults 0 1\n');
  writeFileSync(path.join(rootfs, 'etc/hostname'), 'vm-base\n');
  writeFileSync(path.join(rootfs, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tvm-base\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  writeFileSync(path.join(rootfs, 'etc/machine-id'), 'b4b5c6d7e8f90123456789abcdef0124\n');
  const wants = (target, unit, name = path.basename(unit)) => {
    const d = path.join(rootfs, 'etc/systemd/system', `${target}.wants`);
    mkdirSync(d, { recursive: true });
    rmSync(path.join(d, name), { force: true });
    symlinkSync(unit, path.join(d, name));
  };
  wants('getty.target', '/lib/systemd/system/serial-getty@.service', 'serial-getty@ttyS0.service');
  const script = path.join(rootfs, 'usr/local/sbin/bench-report');
  mkdirSync(path.dirname(script), { recursive: true });
  writeFileSync(script, REPORT_SCRIPT);
  chmodSync(script, 0o755);
  writeFileSync(path.join(rootfs, 'etc/systemd/system/bench-report.service'), REPORT_UNIT);
  wants('multi-user.target', '/etc/systemd/system/bench-report.service');
  const { kernel, initrd } = lib.bootFiles(rootfs);
  copyFileSync(kernel, path.join(tmp, 'vmlinuz'));
  copyFileSync(initrd, path.join(tmp, 'initrd.img'));

  // One disk per agent: the other one's off switch is the only difference.
  const flags = { guestctx: path.join(rootfs, 'etc/guestctx/disabled'), cloudInit: path.join(rootfs, 'etc/cloud/cloud-init.disabled') };
  for (const agent of ['cloud-init', 'guestctx']) {
    rmSync(flags.guestctx, { force: true });
    rmSync(flags.cloudInit, { force: true });
    const off = agent === 'cloud-init' ? flags.guestctx : flags.cloudInit;
    mkdirSync(path.dirname(off), { recursive: true });
    writeFileSync(off, '');
    const disk = path.join(tmp, path.basename(disks[agent]));
    lib.run('truncate', ['-s', lib.DISK_SIZE, disk], { quiet: true });
    log(`vm: mkfs.ext4 -d for the ${agent} disk`);
    lib.run('mkfs.ext4', ['-q', '-F', '-L', 'vmroot', '-d', rootfs, disk], { quiet: true, timeoutMs: 5 * 60_000 });
  }
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(path.join(dir, 'complete'), `${new Date().toISOString()}\n`);
  return { dir, disks, kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), cached: false };
}

/** Boot once; note when (host ms after qemu started) each console marker first appeared. */
function bootWatching(lib, opts, consoleLog, timeoutMs) {
  const args = lib.qemuArgs(opts);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = createWriteStream(consoleLog);
    let text = '';
    const seen = {};
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const onData = (chunk) => {
      text += chunk.toString('utf8');
      out.write(chunk);
      const now = Date.now() - started;
      if (seen.marker === undefined && text.includes(MARKER)) seen.marker = now;
      // Power-on -> kernel clock offset: host arrival minus the printk stamp, smallest over all
      // lines (a line can only arrive late, never early, so the minimum is the best estimate).
      for (const m of chunk.toString('utf8').matchAll(/\[\s*(\d+\.\d{6})\]/g)) {
        const off = now / 1000 - Number(m[1]);
        if (seen.offsetS === undefined || off < seen.offsetS) seen.offsetS = off;
      }
      if (seen.up === undefined) {
        const m = new RegExp(`${UP_MARKER} ([0-9.]+)`).exec(text);
        if (m) seen.up = { hostMs: now, uptimeS: Number(m[1]) };
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`qemu-system-x86_64 did not start: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      out.end();
      resolve({ code, wallMs: Date.now() - started, console: text, seen, timedOut: Date.now() - started >= timeoutMs });
    });
  });
}

function sections(text) {
  const out = {};
  for (const m of text.replace(/\r/g, '').matchAll(/@@BENCH-BEGIN (\S+)@@\n([\s\S]*?)\n@@BENCH-END \1@@/g)) out[m[1]] = m[2];
  return out;
}

/** Seconds cloud-init spent generating SSH host keys: its config-ssh module in `analyze blame`. */
function cloudInitSshKeygen(blame) {
  const m = /([0-9.]+)s \(init-network\/config-ssh\)/.exec(blame ?? '');
  return m ? Number(m[1]) : undefined;
}

/** A guestctx module that generates host keys, if one exists and ran (status --json). */
function guestctxSshKeygen(statusText) {
  try {
    const st = JSON.parse(statusText);
    let total = 0;
    for (const stage of Object.values(st.stages ?? {})) {
      for (const [name, m] of Object.entries(stage.modules ?? {})) if (/host-?keys?/.test(name)) total += (m.durationMs ?? 0) / 1000;
    }
    return total;
  } catch {
    return undefined;
  }
}

/** Per stage: its own duration and the modules that took 100 ms or more (status --json), to see where a unit's time went. */
function guestctxStages(statusText) {
  try {
    const st = JSON.parse(statusText);
    const out = {};
    for (const [name, stage] of Object.entries(st.stages ?? {})) {
      const slow = Object.entries(stage.modules ?? {}).filter(([, m]) => (m.durationMs ?? 0) >= 100).map(([n, m]) => `${n} ${m.durationMs}`);
      out[name] = { durationMs: stage.durationMs, sinceProcessStartMs: stage.sinceProcessStartMs, result: stage.result, slowModules: slow };
    }
    return out;
  } catch {
    return undefined;
  }
}

/** "command|ms" lines from the report's start-up floors -> { command: [ms, ...] }. */
function parseStartup(text) {
  const out = {};
  for (const line of (text ?? '').split('\n')) {
    const m = /^(.+)\|(\d+)$/.exec(line.trim());
    if (m) (out[m[1]] ??= []).push(Number(m[2]));
  }
  return Object.keys(out).length ? out : undefined;
}

function summarizeBoot(lib, agent, withSeed, r, mountedFiles) {
  const rep = sections(r.console);
  const units = lib.parseUnits(rep.units);
  const mine = AGENT_UNITS[agent].map((n) => [n, units[n]]);
  const agentUnitsS = mine.reduce((s, [, u]) => s + (u?.tookS ?? 0), 0);
  // Guest monotonic time starts at kernel start; power-on (qemu start) is earlier by this offset.
  const offsetS = r.seen.offsetS;
  const mu = Number(/ActiveEnterTimestampMonotonic=(\d+)/.exec(rep['multi-user'] ?? '')?.[1] ?? 0) / 1e6;
  const ssh = agent === 'cloud-init' ? cloudInitSshKeygen(rep['ci-blame']) : guestctxSshKeygen(rep['guestctx-status']);
  return {
    agent,
    seed: withSeed,
    wallS: r.wallMs / 1000,
    timedOut: r.timedOut,
    agentUnitsS: Number(agentUnitsS.toFixed(3)),
    unitDetail: mine.map(([n, u]) => `${n.replace('.service', '')} ${u?.tookS === undefined ? (u?.active ?? 'absent') : u.tookS.toFixed(2)}`).join(', '),
    units: Object.fromEntries(mine),
    sshKeygenS: ssh,
    agentUnitsWithoutSshS: ssh !== undefined ? Number((agentUnitsS - ssh).toFixed(3)) : undefined,
    powerOnToKernelS: offsetS !== undefined ? Number(offsetS.toFixed(2)) : undefined,
    multiUserFromKernelS: mu || undefined,
    multiUserFromPowerOnS: mu && offsetS !== undefined ? Number((mu + offsetS).toFixed(2)) : undefined,
    markerFromPowerOnS: mountedFiles.runcmdUptimeS !== undefined && offsetS !== undefined
      ? Number((mountedFiles.runcmdUptimeS + offsetS).toFixed(2))
      : r.seen.marker !== undefined ? r.seen.marker / 1000 : undefined,
    hostname: rep.hostname?.trim(),
    failedUnits: rep.failed?.trim() || undefined,
    startupMs: parseStartup(rep.startup),
    ...(agent === 'guestctx' ? { stages: guestctxStages(rep['guestctx-status']) } : {}),
    ...mountedFiles,
    reportFound: Object.keys(rep).length > 0,
  };
}

/** The last comparison, kept so a default `npm run bench` (no VM boots) still reports it. */
export const VM_RESULTS = path.join(TOP, 'bench/results/vm-latest.json');

export function saveVmResults(r) {
  mkdirSync(path.dirname(VM_RESULTS), { recursive: true });
  writeFileSync(VM_RESULTS, `${JSON.stringify({ finishedAt: new Date().toISOString(), ...r }, null, 2)}\n`);
}

export async function runVmCompare({ log = (m) => process.stderr.write(`${m}\n`), timeoutS = 360 } = {}) {
  const lib = await vmLib();
  if (process.getuid?.() !== 0) return { pending: 'needs root (chroot, loop mounts)', reference: CLOUD_INIT_REFERENCE };
  const missing = ['qemu-system-x86_64', 'debootstrap', 'xorriso', 'mkfs.ext4'].filter((t) => !lib.have(t));
  if (missing.length) return { pending: `missing tools: ${missing.join(', ')} (apt-get install qemu-system-x86 debootstrap xorriso e2fsprogs)`, reference: CLOUD_INIT_REFERENCE };
  const version = JSON.parse(readFileSync(path.join(TOP, 'package.json'), 'utf8')).version;
  const deb = path.join(TOP, `dist/guestctx_${version}-1_amd64.deb`);
  if (!existsSync(deb)) return { pending: `${path.relative(TOP, deb)} is missing (build the package first)`, reference: CLOUD_INIT_REFERENCE };

  const t0 = Date.now();
  const images = ensureImages(lib, deb, log);
  // Not under the VM tests' work root: test/vm/run.mjs empties that at every start.
  const work = path.join(process.env.BENCH_VM_WORK ?? '/var/tmp/guestctx-bench-vm', `run-${Date.now()}`);
  mkdirSync(work, { recursive: true });
  const iso = lib.makeIso({ label: 'cidata', files: seedFiles(), dir: path.join(work, 'seed'), out: path.join(work, 'seed.iso') });
  const boots = [];
  let keep = false;
  // BENCH_VM_RUNS boots of each kind (default 1): a single TCG boot varies by a second or two.
  const runs = Math.max(1, Number(process.env.BENCH_VM_RUNS ?? 1) || 1);
  for (let run = 1; run <= runs; run++) for (const agent of ['guestctx', 'cloud-init']) {
    for (const withSeed of [true, false]) {
      const name = `${agent}-${withSeed ? 'nocloud' : 'none'}${runs > 1 ? `-${run}` : ''}`;
      const disk = lib.copyDisk(images.disks[agent], path.join(work, `${name}.raw`));
      log(`vm: booting ${name} (TCG, about 2 minutes)`);
      const r = await bootWatching(
        lib,
        { kernel: images.kernel, initrd: images.initrd, disk, seedIso: withSeed ? iso : undefined, nics: [{ mac: MAC }], accel: 'tcg' },
        path.join(work, `${name}.console.log`),
        timeoutS * 1000,
      );
      let files = {};
      try {
        files = lib.withMountedDisk(disk, path.join(work, `${name}.mnt`), (mnt) => ({
          writeFilesPresent: existsSync(path.join(mnt, 'etc/bench-write-files')),
          runcmdUptimeS: existsSync(path.join(mnt, 'var/lib/bench-runcmd')) ? Number(readFileSync(path.join(mnt, 'var/lib/bench-runcmd'), 'utf8').trim()) : undefined,
          authorizedKey: readdirSync(path.join(mnt, 'home')).some((u) => {
            const f = path.join(mnt, 'home', u, '.ssh/authorized_keys');
            return existsSync(f) && readFileSync(f, 'utf8').includes('bench-key');
          }) || (existsSync(path.join(mnt, 'root/.ssh/authorized_keys')) && readFileSync(path.join(mnt, 'root/.ssh/authorized_keys'), 'utf8').includes('bench-key')),
        }));
      } catch (err) {
        files = { diskReadError: err.message };
      }
      const b = { ...summarizeBoot(lib, agent, withSeed, r, files), run };
      if (!b.reportFound || b.timedOut) keep = true;
      boots.push(b);
      log(`vm: ${name}: units ${b.agentUnitsS} s (${b.unitDetail}); ssh keys ${b.sshKeygenS ?? '?'} s; marker ${b.markerFromPowerOnS ?? '-'} s; multi-user ${b.multiUserFromPowerOnS ?? '?'} s after power-on; wall ${b.wallS.toFixed(0)} s`);
      rmSync(disk, { force: true });
    }
  }
  // A boot that timed out (TCG sometimes stalls a guest) has no figures and is left out.
  const median = (xs) => {
    const v = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
    if (!v.length) return undefined;
    const mid = Math.floor(v.length / 2);
    return Number((v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2).toFixed(3));
  };
  const of = (agent, seed, key) => median(boots.filter((b) => b.agent === agent && b.seed === seed).map((b) => b[key] ?? (key === 'agentUnitsWithoutSshS' ? b.agentUnitsS : undefined)));
  const g = of('guestctx', true, 'agentUnitsWithoutSshS');
  const c = of('cloud-init', true, 'agentUnitsWithoutSshS');
  const comparison = g !== undefined && c !== undefined ? { source: `BENCH_VM boots, NoCloud seed, median of ${runs}`, guestctxS: g, cloudInitS: c, ratio: Number((g / c).toFixed(3)) } : undefined;
  // No datasource: what guestctx adds to reaching multi-user.target, against cloud-init switched off by its generator.
  const gn = of('guestctx', false, 'multiUserFromPowerOnS');
  const cn = of('cloud-init', false, 'multiUserFromPowerOnS');
  const noDatasource = gn !== undefined && cn !== undefined ? { source: `BENCH_VM boots without a datasource, median of ${runs}`, guestctxMultiUserS: gn, cloudInitMultiUserS: cn, addedS: Number((gn - cn).toFixed(2)), guestctxUnitsS: of('guestctx', false, 'agentUnitsS') } : undefined;
  if (!keep) rmSync(work, { recursive: true, force: true });
  else log(`vm: kept ${work} (console logs) because a boot did not report`);
  return { accel: 'tcg', package: { file: path.basename(deb), sha256: sha256File(deb) }, images: { dir: images.dir, cached: images.cached }, runs, boots, comparison, noDatasource, reference: CLOUD_INIT_REFERENCE, seconds: Math.round((Date.now() - t0) / 1000) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runVmCompare().then(
    (r) => {
      saveVmResults(r);
      console.log(JSON.stringify(r, null, 2));
    },
    (err) => {
      console.error(`vm-compare: ${err.stack ?? err.message}`);
      process.exitCode = 0; // a benchmark reports; it does not fail the caller
    },
  );
}
