#!/usr/bin/env node
// `npm run bench`: measure what guestctx costs and print one table (figure,
// median, spread, unit) plus the targets, and write bench/results/latest.json
// (and latest.md, the same table in Markdown for BENCHMARKS.md).
// Benchmarks report; they never fail: a section that cannot run records why
// and the process still exits 0.
//
//   BENCH_RUNS=N   measured runs per figure after one warm-up (default 10)
//   BENCH_VM=1     also boot the cloud-init vs guestctx comparison (bench/vm-compare.mjs, ~10 min, root, qemu)
//                  and the start-up probe (bench/vm-startup.mjs, ~2 min); without it the last results are reported
//   BENCH_VM_RUNS=N boots of each kind in the comparison (default 1; medians are reported)
//   BENCH_ONLY=a,b only these sections: agent, startup, trace, userdata, ec2, vm
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepare, runAgentBench, scenarios } from './agent.mjs';
import { EC2_TARGET_REQUESTS, runEc2RequestBench } from './ec2-requests.mjs';
import { BUNDLE, SEA, TOP, scratchDir, snapshotArtefacts } from './lib/inputs.mjs';
import { round } from './lib/stats.mjs';
import { runStartupBench, runTraceBench } from './startup.mjs';
import { buildBigUserData, runUserDataBench } from './userdata.mjs';
import { CLOUD_INIT_REFERENCE, VM_RESULTS, runVmCompare, saveVmResults } from './vm-compare.mjs';
import { VM_STARTUP_RESULTS, runVmStartup, saveVmStartup } from './vm-startup.mjs';

const RESULTS_DIR = path.join(TOP, 'bench/results');
const TARGETS = { wallMs: 150, peakRssMB: 80, ec2Requests: EC2_TARGET_REQUESTS, guestFraction: 0.1, noDatasourceS: 2 };

const runs = Math.max(3, Number(process.env.BENCH_RUNS ?? 10) || 10);
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
const wantVm = process.env.BENCH_VM === '1';
const want = (s) => (only ? only.has(s) : s !== 'vm' || wantVm);
const t0 = Date.now();
const log = (m) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${m}\n`);

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch (err) {
    log(`nproc not available (${err.message}); using node's count`);
  }
  return {
    nproc,
    cpuModel: model,
    memTotalGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    kernel: os.release(),
    python: execFileSync('python3', ['--version'], { encoding: 'utf8' }).trim(),
  };
}

function missingTools() {
  const need = { python3: 'python3 (measures each child with os.wait4)', xorriso: 'xorriso (apt-get install -y xorriso)' };
  return Object.entries(need).filter(([t]) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  }).map(([, why]) => why);
}

/** Run one section; an error is recorded in the results instead of stopping the others. */
async function section(name, results, fn) {
  if (!want(name)) return undefined;
  const s = Date.now();
  try {
    results[name] = await fn();
  } catch (err) {
    log(`${name}: could not run: ${err.stack ?? err.message}`);
    results[name] = { error: err.message };
  }
  results.sectionSeconds[name] = round((Date.now() - s) / 1000, 1);
  return results[name];
}

const spread = (s, d = 1) => (s ? `${round(s.min, d)}–${round(s.max, d)} (IQR ${round(s.q1, d)}–${round(s.q3, d)})` : '');

/** Table rows [figure, median, spread, unit] from the results. */
function rows(r) {
  const out = [];
  const add = (figure, median, sp, unit) => out.push([figure, typeof median === 'number' ? String(round(median, unit === 'MB' ? 1 : 1)) : String(median ?? ''), sp ?? '', unit]);
  for (const a of Array.isArray(r.agent) ? r.agent : []) {
    const who = `${a.scenario} / ${a.executable}${a.goodRuns < a.runs ? ` (${a.goodRuns}/${a.runs} runs ok)` : ''}`;
    add(`run ${who}: wall`, a.wallMs.median, spread(a.wallMs), 'ms');
    add(`run ${who}: user+sys CPU`, a.cpuMs.median, spread(a.cpuMs), 'ms');
    add(`run ${who}: peak RSS`, a.peakRssMB.median, spread(a.peakRssMB), 'MB');
  }
  if (r.startup?.nodeFloor) {
    add('node -e (bare node process): wall', r.startup.nodeFloor.processWallMs.median, spread(r.startup.nodeFloor.processWallMs), 'ms');
    for (const d of r.startup.dependencies) {
      add(`require('${d.dependency}') from node_modules`, d.nodeModules.requireMs.median, spread(d.nodeModules.requireMs, 2), 'ms');
      add(`require('${d.dependency}') bundled (${d.bundled.bytes} B)`, d.bundled.requireMs.median, spread(d.bundled.requireMs, 2), 'ms');
    }
    add('size dist/guestctx.cjs', r.startup.sizes.bundleBytes, '', 'bytes');
    add('size dist/guestctx', r.startup.sizes.executableBytes, `node binary alone: ${r.startup.sizes.nodeBinaryBytes}`, 'bytes');
  }
  for (const t of Array.isArray(r.trace) ? r.trace : []) {
    add(`dependencies loaded: ${t.path}`, '', t.loads.map((l) => l.request).join(', ') || 'none', 'list');
  }
  if (r.userdata?.results) {
    for (const u of r.userdata.results) {
      add(`query userdata 1 MiB/20 parts / ${u.executable}: wall`, u.large.wallMs.median, spread(u.large.wallMs), 'ms');
      add(`query userdata 1 MiB/20 parts / ${u.executable}: peak RSS`, u.large.peakRssMB.median, spread(u.large.peakRssMB), 'MB');
      add(`  decoding share (minus small-seed query)`, u.decodeWallMs, `CPU +${round(u.decodeCpuMs)} ms, RSS +${round(u.extraRssMB)} MB`, 'ms');
    }
  }
  for (const e of Array.isArray(r.ec2) ? r.ec2 : []) add(`EC2 metadata requests per run, ${e.scenario}`, e.requests, `runs: ${e.perRun.join(', ')}`, 'requests');
  const vm = r.vm && !r.vm.error ? r.vm : undefined;
  for (const b of vm?.boots ?? []) {
    const run = (vm.runs ?? 1) > 1 ? ` (boot ${b.run})` : '';
    add(`VM ${b.agent} ${b.seed ? 'NoCloud seed' : 'no datasource'}${run}: agent unit time`, b.agentUnitsS, b.unitDetail, 's');
    if (b.seed) {
      add(`VM ${b.agent} NoCloud${run}: of which SSH host keys`, b.sshKeygenS ?? '?', b.agent === 'cloud-init' ? 'analyze blame: init-network/config-ssh' : 'status.json: ssh-host-keys', 's');
      add(`VM ${b.agent} NoCloud${run}: agent unit time without SSH host keys`, b.agentUnitsWithoutSshS ?? '?', '', 's');
      add(`VM ${b.agent} NoCloud${run}: power-on to runcmd marker`, b.markerFromPowerOnS ?? 'not reached', '', 's');
    }
    add(`VM ${b.agent} ${b.seed ? 'NoCloud' : 'no datasource'}${run}: power-on to multi-user.target`, b.multiUserFromPowerOnS ?? '?', '', 's');
  }
  const st = r.vmStartup?.starts;
  for (const [label, v] of Object.entries(st ?? {})) {
    add(`VM start-up (${r.vmStartup.finishedAt}): ${label}, cold page cache`, v.coldMs ?? '?', '', 'ms');
    add(`VM start-up (${r.vmStartup.finishedAt}): ${label}, warm`, v.warmMedianMs ?? '?', `runs: ${v.warmMs.join(', ')}`, 'ms');
  }
  for (const [name, s] of Object.entries(r.vmStartup?.stages ?? {})) {
    if (s.sinceProcessStartMs !== undefined) add(`VM boot: stage ${name} began after its process started`, s.sinceProcessStartMs, `stage itself ${s.durationMs} ms`, 'ms');
  }
  for (const [unit, t] of Object.entries(r.vmStartup?.startupTraces ?? {})) add(`VM boot: ${unit} start-up marks (ms since its process started)`, '', t, 'marks');
  if (r.vmStartup?.fincore) add('VM: bytes of the executable a cold --version reads', r.vmStartup.fincore.residentBytes, `of ${r.vmStartup.fincore.sizeBytes}`, 'bytes');
  for (const b of r.vmHarness?.fromHarness?.boots ?? []) add(`VM tests (${r.vmHarness.fromHarness.finishedAt}): guestctx units, ${b.scenario} / ${b.label}`, b.totalS, '', 's');
  return out;
}

/** Target checks: [target, measured, ratio or verdict]. */
function targets(r) {
  const out = [];
  for (const a of Array.isArray(r.agent) ? r.agent : []) {
    if (a.executable !== 'dist/guestctx' || !['opennebula', 'nocloud'].includes(a.scenario)) continue;
    if (!a.goodRuns) {
      out.push({ target: `${a.scenario} run, single executable`, measured: `no successful run: ${a.problems?.join('; ')}`, ratio: 'n/a', met: false });
      continue;
    }
    out.push({ target: `${a.scenario} run, single executable: wall < ${TARGETS.wallMs} ms`, measured: round(a.wallMs.median), ratio: round(a.wallMs.median / TARGETS.wallMs, 2), met: a.wallMs.median < TARGETS.wallMs });
    out.push({ target: `${a.scenario} run, single executable: peak RSS < ${TARGETS.peakRssMB} MB`, measured: round(a.peakRssMB.median), ratio: round(a.peakRssMB.median / TARGETS.peakRssMB, 2), met: a.peakRssMB.median < TARGETS.peakRssMB });
  }
  for (const e of Array.isArray(r.ec2) ? r.ec2 : []) {
    out.push({ target: `EC2 ${e.scenario}: ≤ ${TARGETS.ec2Requests} requests`, measured: e.problem ? `${e.requests} (run failed: ${e.problem})` : e.requests, ratio: round(e.requests / TARGETS.ec2Requests, 2), met: !e.problem && e.requests <= TARGETS.ec2Requests });
  }
  const g = r.vm?.comparison;
  if (g?.guestctxS !== undefined && g?.cloudInitS !== undefined) {
    out.push({
      target: `in-guest unit time ≤ 1/10 of cloud-init's, without SSH host keys (${g.source}${r.vm.fromFile ? `, ${r.vm.finishedAt}` : ''})`,
      measured: `${round(g.guestctxS, 2)} s vs ${round(g.cloudInitS, 2)} s`,
      ratio: round(g.guestctxS / g.cloudInitS, 3),
      met: g.guestctxS <= TARGETS.guestFraction * g.cloudInitS,
    });
  }
  const n = r.vm?.noDatasource;
  if (n?.addedS !== undefined) {
    out.push({
      target: `no datasource: guestctx adds < ${TARGETS.noDatasourceS} s to multi-user.target (${n.source}${r.vm.fromFile ? `, ${r.vm.finishedAt}` : ''})`,
      measured: `+${round(n.addedS, 2)} s (${round(n.guestctxMultiUserS, 2)} s vs ${round(n.cloudInitMultiUserS, 2)} s)`,
      ratio: round(n.addedS / TARGETS.noDatasourceS, 2),
      met: n.addedS < TARGETS.noDatasourceS,
    });
  }
  return out;
}

/**
 * Without BENCH_VM: guestctx's unit times from the VM tests (dist/vm-results.json,
 * boots with a datasource) against cloud-init's reference from VM-NOTES.md.
 */
function vmFromHarnessResults() {
  const file = path.join(TOP, 'dist/vm-results.json');
  if (!existsSync(file)) return { pending: 'no dist/vm-results.json: run `npm run test:vm` or `BENCH_VM=1 npm run bench`', reference: CLOUD_INIT_REFERENCE };
  const v = JSON.parse(readFileSync(file, 'utf8'));
  const boots = [];
  for (const s of v.scenarios ?? []) for (const b of s.boots ?? []) if (b.guestctx?.totalS > 0 && !b.failures?.length) boots.push({ scenario: s.name, label: b.label, totalS: b.guestctx.totalS });
  const withDs = boots.filter((b) => b.scenario !== 'no-datasource');
  const pick = withDs.length ? withDs : boots;
  const med = pick.length ? pick.map((b) => b.totalS).sort((a, b) => a - b)[Math.floor((pick.length - 1) / 2)] : undefined;
  const ref = CLOUD_INIT_REFERENCE.totalS - CLOUD_INIT_REFERENCE.sshKeygenS;
  return {
    fromHarness: { file: 'dist/vm-results.json', finishedAt: v.finishedAt, accel: v.accel, boots },
    reference: CLOUD_INIT_REFERENCE,
    ...(med !== undefined ? { comparison: { source: 'guestctx: dist/vm-results.json median; cloud-init: VM-NOTES.md reference', guestctxS: med, cloudInitS: ref } } : {}),
  };
}

function table(rowsIn) {
  const head = ['figure', 'median', 'spread: min–max (IQR)', 'unit'];
  const w = head.map((h, i) => Math.max(h.length, ...rowsIn.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 1 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rowsIn.map(line)].join('\n');
}

function markdown(rowsIn, tg) {
  const esc = (s) => s.replace(/\|/g, '\\|');
  const lines = ['| figure | median | spread: min–max (IQR) | unit |', '|---|---:|---|---|', ...rowsIn.map((r) => `| ${r.map(esc).join(' | ')} |`)];
  lines.push('', '| target | measured | ratio to target | met |', '|---|---|---:|---|');
  for (const t of tg) lines.push(`| ${esc(t.target)} | ${t.measured} | ${t.ratio} | ${t.met ? 'yes' : '**no**'} |`);
  return `${lines.join('\n')}\n`;
}

async function main() {
  for (const f of [BUNDLE, SEA]) if (!existsSync(f)) throw new Error(`${path.relative(TOP, f)} is missing: run \`npm run build\` (npm run bench does)`);
  const missing = missingTools();
  if (missing.length) {
    log(`cannot benchmark without: ${missing.join('; ')}. Install them and re-run.`);
    return;
  }
  snapshotArtefacts();
  const results = { startedAt: new Date().toISOString(), runsPerFigure: runs, machine: machine(), loadAverageAtStart: os.loadavg().map((x) => round(x, 2)), sectionSeconds: {} };
  log(`machine: ${results.machine.nproc} CPU(s), ${results.machine.cpuModel}, node ${results.machine.node}; load ${results.loadAverageAtStart.join(' ')}; ${runs} runs per figure`);

  await section('agent', results, () => runAgentBench({ runs, log }));
  await section('startup', results, () => runStartupBench({ runs, log }));
  await section('userdata', results, () => runUserDataBench({ runs, log }));
  await section('trace', results, async () => runTraceBench({ scenarios: await scenarios(), prepare, userDataSeed: buildBigUserData().seed, log }));
  await section('ec2', results, () => runEc2RequestBench({ runs: 3, log }));
  if (want('vm')) {
    await section('vm', results, async () => {
      const r = await runVmCompare({ log });
      if (r.boots) saveVmResults(r);
      return r;
    });
  } else if (existsSync(VM_RESULTS)) {
    // The boots take ~10 minutes: a default run reports the last BENCH_VM=1 comparison, dated.
    results.vm = { ...JSON.parse(readFileSync(VM_RESULTS, 'utf8')), fromFile: 'bench/results/vm-latest.json' };
  } else {
    results.vm = vmFromHarnessResults();
  }
  if (want('vm')) {
    await section('vmStartup', results, async () => {
      const r = await runVmStartup({ log });
      if (r.starts) saveVmStartup(r);
      return r;
    });
  } else if (existsSync(VM_STARTUP_RESULTS)) {
    results.vmStartup = { ...JSON.parse(readFileSync(VM_STARTUP_RESULTS, 'utf8')), fromFile: 'bench/results/vm-startup.json' };
  }
  results.vmHarness = vmFromHarnessResults();

  results.loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));
  results.totalSeconds = round((Date.now() - t0) / 1000, 1);
  const r = rows(results);
  const tg = targets(results);
  results.targets = tg;
  results.table = r.map(([figure, median, sp, unit]) => ({ figure, median, spread: sp, unit }));
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown(r, tg));

  console.log(`\n${table(r)}\n`);
  for (const t of tg) console.log(`${t.met ? 'MET    ' : 'NOT MET'}  ${t.target}: ${t.measured} (ratio ${t.ratio})`);
  if (results.vm?.pending) console.log(`VM comparison pending: ${results.vm.pending}`);
  console.log(`\n${runs} runs per figure; load average ${results.loadAverageAtStart.join(' ')} -> ${results.loadAverageAtEnd.join(' ')}; ${results.totalSeconds} s. Results: bench/results/latest.json, bench/results/latest.md`);
}

main()
  .catch((err) => log(`bench: ${err.stack ?? err.message}`))
  .finally(() => {
    rmSync(scratchDir(), { recursive: true, force: true });
    process.exit(0);
  });
