#!/usr/bin/env node
// `npm run test:vm`: boot real Debian guests under qemu with the project's own
// .deb installed and check, from inside each guest, what guestctx did.
// Scenarios are data, one file each in test/vm/scenarios/ (see docs/VM-TESTS.md).
//
//   node test/vm/run.mjs [--only name,name] [--list] [--keep] [--accel auto|tcg|kvm] [--timeout 300]
//
// The Debian base rootfs is cached under /var/cache/guestctx-vm/<recipe hash>/;
// each run works in /var/tmp/guestctx-vm/run-<time>/ (kept on failure or with
// --keep, else removed). Results for the benchmarks: dist/vm-results.json.
// Needs root (debootstrap, chroot, loop mounts), qemu-system-x86_64,
// debootstrap, xorriso, e2fsprogs; `npm run package` must have made the .deb.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CACHE_ROOT, ensureBaseRootfs } from './lib/base-image.mjs';
import { checkExpectations } from './lib/expect.mjs';
import { copyDisk, prepareRunImage, withMountedDisk, withWritableDisk } from './lib/guest-image.mjs';
import { have, log } from './lib/proc.mjs';
import { boot, probeKvm, tail } from './lib/qemu.mjs';
import { guestctxTimings, parseUnits, reportFromConsole, reportFromDisk } from './lib/report.mjs';
import { startEc2Server } from './lib/ec2-server.mjs';
import { makeIso } from './lib/seed.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, '../..');
const WORK_ROOT = process.env.GUESTCTX_VM_WORK ?? '/var/tmp/guestctx-vm';
const RESULTS = path.join(top, 'dist/vm-results.json');

function parseArgs(argv) {
  const a = { only: undefined, list: false, keep: false, accel: process.env.GUESTCTX_VM_ACCEL ?? 'auto', timeoutS: Number(process.env.GUESTCTX_VM_TIMEOUT ?? 300) };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--only') a.only = argv[++i].split(',').map((s) => s.trim()).filter(Boolean);
    else if (v === '--list') a.list = true;
    else if (v === '--keep') a.keep = true;
    else if (v === '--accel') a.accel = argv[++i];
    else if (v === '--timeout') a.timeoutS = Number(argv[++i]);
    else throw new Error(`unknown argument ${v} (see the header of test/vm/run.mjs)`);
  }
  if (!['auto', 'tcg', 'kvm'].includes(a.accel)) throw new Error(`--accel must be auto, tcg or kvm, not ${a.accel}`);
  return a;
}

/** What the built executable has registered: scenarios enable themselves from this. */
function discoverEnv(exe) {
  const empty = mkdtempSync(path.join(tmpdir(), 'guestctx-vm-env-'));
  try {
    let detect;
    try {
      detect = execFileSync(exe, ['detect', '--json', '--root', empty], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      // Exit 2 = nothing detected, which is expected in an empty root.
      detect = err.stdout;
    }
    const datasources = JSON.parse(detect).datasources.map((d) => d.datasource);
    const modules = execFileSync(exe, ['modules'], { encoding: 'utf8' }).split('\n').map((l) => l.split(/\s+/)[0]).filter(Boolean);
    return { datasources, modules };
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

async function loadScenarios(env) {
  const dir = path.join(here, 'scenarios');
  const out = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.mjs')).sort()) {
    const mod = await import(pathToFileURL(path.join(dir, f)).href);
    const def = typeof mod.default === 'function' ? mod.default(env) : mod.default;
    if (!def?.name) throw new Error(`${f}: the default export must be a scenario (or a function of env returning one) with a name`);
    out.push({ ...def, file: f });
  }
  return out;
}

function select(all, only) {
  if (!only) return all;
  const byName = new Map(all.map((s) => [s.name, s]));
  const want = new Set();
  const add = (n) => {
    const s = byName.get(n);
    if (!s) throw new Error(`no scenario named ${n} (have ${[...byName.keys()].join(', ')})`);
    if (s.after) add(s.after);
    want.add(n);
  };
  for (const n of only) add(n);
  return all.filter((s) => want.has(s.name));
}

function preflight() {
  if (process.getuid?.() !== 0) throw new Error('the VM tests need root (debootstrap, chroot, loop mounts)');
  const missing = ['qemu-system-x86_64', 'debootstrap', 'xorriso', 'mkfs.ext4', 'chroot', 'truncate'].filter((t) => !have(t));
  if (missing.length) throw new Error(`missing tools: ${missing.join(', ')} (apt-get install qemu-system-x86 qemu-utils debootstrap xorriso e2fsprogs)`);
}

/** KVM when it works here (probe result cached per host kernel + guest kernel), else TCG. */
async function chooseAccel(mode, image) {
  if (mode !== 'auto') return { accel: mode, why: 'asked for' };
  const host = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const cacheFile = path.join(CACHE_ROOT, 'kvm-probe.json');
  const key = `${host} ${path.basename(image.kernelName ?? '')}`;
  let cache = {};
  if (existsSync(cacheFile)) cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
  if (!cache[key]) {
    log('accel: probing KVM (at most 20 s)');
    cache[key] = await probeKvm(image);
    writeFileSync(cacheFile, `${JSON.stringify(cache, null, 2)}\n`);
  }
  const p = cache[key];
  return { accel: p.usable ? 'kvm' : 'tcg', why: p.why };
}

function fmtS(v) {
  return v === undefined ? '?' : `${v.toFixed(2)} s`;
}

/** A unit's time, or "skipped" when its condition kept it from starting. */
function unitS(u) {
  return u?.condition === 'no' && u.tookS === undefined ? 'skipped' : fmtS(u?.tookS);
}

async function runBoot(scenario, b, i, ctx) {
  const dir = path.join(ctx.work, scenario.name);
  mkdirSync(dir, { recursive: true });
  const disk = path.join(dir, 'disk.raw');
  if (b.disk === 'previous') {
    if (i === 0) throw new Error(`${scenario.name}: the first boot cannot use disk "previous"`);
  } else if (b.disk?.from) {
    const src = ctx.finalDisks.get(b.disk.from);
    if (!src) throw new Error(`${scenario.name}: the disk of scenario ${b.disk.from} is not available (did it run and pass?)`);
    copyDisk(src, disk);
  } else {
    copyDisk(ctx.image.disk, disk);
  }
  // A scenario may change its guest before the boot (e.g. switch the network stack).
  if (b.prepare) withWritableDisk(disk, path.join(dir, 'prep'), (mnt) => b.prepare(mnt));
  const seedIso = b.seed ? makeIso({ label: b.seed.label, files: b.seed.files, fs: b.seed.fs, dir: path.join(dir, `seed-${i}`), out: path.join(dir, `seed-${i}.iso`) }) : undefined;
  const consoleLog = path.join(dir, `console-${i}.log`);
  // A metadata service on the host's loopback, forwarded into the NIC's user network.
  const imds = b.ec2Metadata ? await startEc2Server(b.ec2Metadata) : undefined;
  // guestfwd's cmd: form bridges each guest connection separately (see lib/tcp-pipe.mjs).
  const pipe = `cmd:${process.execPath} ${path.join(here, 'lib/tcp-pipe.mjs')} 127.0.0.1 ${imds?.port}`;
  const nics = (b.nics ?? []).map((n) => (n.metadata === 'ec2' ? { ...n, extra: `guestfwd=tcp:169.254.169.254:80-${pipe}` } : n));
  log(`${scenario.name} / ${b.label}: booting (${ctx.accel})`);
  let r;
  try {
    r = await boot(
      { kernel: ctx.image.kernel, initrd: ctx.image.initrd, disk, seedIso, nics, accel: ctx.accel, smbios: b.smbios },
      { timeoutMs: (b.timeoutS ?? ctx.timeoutS) * 1000, consoleLog },
    );
  } finally {
    await imds?.close();
  }
  const result = { label: b.label, wallMs: r.wallMs, timedOut: r.timedOut, qemuExit: r.code, consoleLog, failures: [], passed: [] };
  if (r.timedOut) result.failures.push(`no power-off within ${b.timeoutS ?? ctx.timeoutS} s; console tail:\n${tail(r.console)}`);
  else if (r.code !== 0) result.failures.push(`qemu exited with ${r.code}: ${tail(r.console, 15)}`);

  // Read the report and check the expectations with the disk mounted read-only.
  let checked = false;
  if (!r.timedOut) {
    try {
      withMountedDisk(disk, path.join(dir, 'mnt'), (mnt) => {
        const report = reportFromDisk(mnt) ?? reportFromConsole(r.console);
        applyChecks(b, report, mnt, result, ctx.accel);
        checked = true;
      });
    } catch (err) {
      result.failures.push(`could not read the disk: ${err.message}`);
    }
  }
  if (!checked) applyChecks(b, reportFromConsole(r.console), undefined, result, ctx.accel);
  if (imds) checkMetadataRequests(b.expect?.metadataRequests, imds.requests, result);
  if (!result.report && !r.timedOut) result.failures.push(`console tail:\n${tail(r.console, 30)}`);
  return { result, disk };
}

/** What the guest asked the metadata service (recorded on the host side). */
function checkMetadataRequests(want, requests, result) {
  result.metadataRequests = requests.length;
  if (!want) return;
  const put = requests.some((q) => q.method === 'PUT' && q.path === '/latest/api/token');
  if (want.tokenPut) (put ? result.passed : result.failures).push(put ? 'IMDSv2 token requested' : `no PUT /latest/api/token among ${requests.length} requests`);
  for (const p of want.paths ?? []) {
    const hit = requests.some((q) => q.method === 'GET' && q.path === p && q.token);
    (hit ? result.passed : result.failures).push(hit ? `GET ${p} with a token` : `the guest never fetched ${p} with a token (asked: ${requests.map((q) => `${q.method} ${q.path}`).join(', ') || 'nothing'})`);
  }
}

function applyChecks(b, report, mnt, result, accel) {
  const units = parseUnits(report?.units);
  result.report = report ? Object.keys(report).length : 0;
  result.guestctx = guestctxTimings(units);
  result.otherUnits = Object.fromEntries(Object.entries(units).filter(([n]) => !n.startsWith('guestctx')).map(([n, u]) => [n, { startS: u.startS, exitS: u.exitS, tookS: u.tookS }]));
  const wait = (report?.['status-wait.time'] ?? '').trim().split(/\s+/).map(Number);
  if (wait.length === 2 && wait.every(Number.isFinite)) {
    result.statusWaitS = Number((wait[1] - wait[0]).toFixed(3));
    result.reportStartedAtS = wait[0];
  }
  const { failures, passed } = checkExpectations(b.expect ?? {}, { report, units, mnt, accel });
  result.failures.push(...failures);
  result.passed.push(...passed);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const exe = path.join(top, 'dist/guestctx');
  if (!existsSync(exe)) throw new Error('dist/guestctx is missing: run "npm run package" (or npm run test:vm, which does)');
  const env = discoverEnv(exe);
  const scenarios = select(await loadScenarios(env), args.only);
  if (args.list) {
    for (const s of scenarios) console.log(`${s.name.padEnd(16)} ${s.pending ? `PENDING: ${s.pending}` : `${s.boots.length} boot(s)`}  ${s.title}`);
    return 0;
  }
  preflight();
  const version = JSON.parse(readFileSync(path.join(top, 'package.json'), 'utf8')).version;
  const deb = path.join(top, `dist/guestctx_${version}-1_amd64.deb`);
  if (!existsSync(deb)) throw new Error(`${deb} is missing: run "npm run package"`);
  log(`registered datasources: ${env.datasources.join(', ')}; modules: ${env.modules.join(', ')}`);

  const base = ensureBaseRootfs();
  // One run directory at a time: older runs (kept after failures) are removed.
  rmSync(WORK_ROOT, { recursive: true, force: true });
  const work = path.join(WORK_ROOT, `run-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(work, { recursive: true });
  const tImage = Date.now();
  const image = prepareRunImage({ baseRootfs: base.rootfs, deb, work });
  image.kernelName = path.basename(readdirSync(path.join(base.rootfs, 'boot')).filter((n) => n.startsWith('vmlinuz-')).sort().pop() ?? '');
  const imageMs = Date.now() - tImage;
  const { accel, why } = await chooseAccel(args.accel, image);
  log(`accel: ${accel} (${why})`);

  const ctx = { work, image, accel, timeoutS: args.timeoutS, finalDisks: new Map() };
  const results = [];
  for (const s of scenarios) {
    const sr = { name: s.name, title: s.title, file: s.file, boots: [] };
    results.push(sr);
    if (s.pending) {
      sr.status = 'pending';
      sr.reason = s.pending;
      log(`${s.name}: PENDING (${s.pending})`);
      continue;
    }
    if (s.after && !ctx.finalDisks.has(s.after)) {
      sr.status = 'skipped';
      sr.reason = `needs the disk of ${s.after}, which did not pass`;
      log(`${s.name}: SKIPPED (${sr.reason})`);
      continue;
    }
    let disk;
    let ok = true;
    for (const [i, b] of s.boots.entries()) {
      let out;
      try {
        out = await runBoot(s, b, i, ctx);
      } catch (err) {
        out = { result: { label: b.label, failures: [`harness error: ${err.message}`], passed: [] }, disk: undefined };
      }
      const r = out.result;
      disk = out.disk;
      sr.boots.push(r);
      const g = r.guestctx?.units ?? {};
      const line = `${s.name} / ${r.label}: ${r.failures.length ? 'FAIL' : 'PASS'}  wall ${fmtS((r.wallMs ?? 0) / 1000)}  ` +
        `guestctx-local ${unitS(g['guestctx-local.service'])}, guestctx ${unitS(g['guestctx.service'])}, guestctx-final ${unitS(g['guestctx-final.service'])} ` +
        `(total ${fmtS(r.guestctx?.totalS)}; report at ${fmtS(r.reportStartedAtS)} after boot)  ${r.passed.length} checks passed`;
      console.log(line);
      for (const f of r.failures) console.log(`    FAILED: ${f.replace(/\n/g, '\n      ')}`);
      if (r.failures.length) {
        ok = false;
        break; // later boots of a scenario build on this one
      }
    }
    sr.status = ok ? 'pass' : 'fail';
    if (ok && disk) ctx.finalDisks.set(s.name, disk);
  }

  const failed = results.filter((r) => r.status === 'fail' || r.status === 'skipped');
  const summary = {
    finishedAt: new Date().toISOString(),
    totalMs: Date.now() - t0,
    host: { cpus: cpus().length, kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim() },
    accel,
    accelWhy: why,
    baseImage: { key: base.key, cached: base.cached, buildMs: base.builtMs, path: base.rootfs },
    runImage: { ...image.times, totalMs: imageMs },
    package: path.basename(deb),
    registered: env,
    scenarios: results,
  };
  mkdirSync(path.dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`\nVM tests: ${results.filter((r) => r.status === 'pass').length} passed, ${results.filter((r) => r.status === 'fail').length} failed, ` +
    `${results.filter((r) => r.status === 'pending').length} pending, ${results.filter((r) => r.status === 'skipped').length} skipped ` +
    `in ${((Date.now() - t0) / 1000).toFixed(0)} s (base image ${base.cached ? 'cached' : `built in ${(base.builtMs / 1000).toFixed(0)} s`}, run image ${(imageMs / 1000).toFixed(0)} s). Results: ${path.relative(top, RESULTS)}`);
  if (failed.length || args.keep) console.log(`work directory kept: ${work} (console logs, disks)`);
  else rmSync(work, { recursive: true, force: true });
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`test:vm: ${err.message}`);
    process.exit(2);
  },
);
