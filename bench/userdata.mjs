// Section 3: decoding a large user-data. A 1 MiB MIME multipart with 20 parts
// (cloud-configs, scripts, boothooks; 7bit, quoted-printable and gzip+base64),
// built by Python's email package through test/helpers/make-mime.py, served as
// NoCloud user-data and decoded by `guestctx query userdata`. The same command
// on a small seed is the baseline, so the difference is the decoding cost.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dropRoot, freshRoot, makeTemplateRoot } from './lib/guest-root.mjs';
import { EXECUTABLES, TOP, scratchDir } from './lib/inputs.mjs';
import { measure } from './lib/measure.mjs';
import { round, summarize } from './lib/stats.mjs';

const PART_BYTES = 54_500; // 20 parts of ~54 kB encoded: just over 1 MiB in all

/** Deterministic filler: a sha256 chain in hex (compresses about 2:1, like real text). */
function filler(seed, bytes) {
  let out = '';
  let h = seed;
  while (out.length < bytes) {
    h = createHash('sha256').update(h).digest('hex');
    out += h;
  }
  return out.slice(0, bytes);
}

function cloudConfig(i, bytes) {
  const lines = ['#cloud-config', `# part ${i}`, 'write_files:'];
  let n = 0;
  while (lines.join('\n').length < bytes - 200) {
    lines.push(`  - path: /var/lib/bench/part${i}-file${n}.txt`, '    permissions: "0644"', '    content: |');
    for (let k = 0; k < 8; k++) lines.push(`      ${filler(`${i}-${n}-${k}`, 64)}`);
    n++;
  }
  return `${lines.join('\n')}\n`;
}

function script(i, bytes, shebang = '#!/bin/sh') {
  const lines = [shebang, `# part ${i}`];
  let n = 0;
  while (lines.join('\n').length < bytes - 100) lines.push(`echo "${filler(`${i}-${n++}`, 64)}" >> /var/tmp/bench-${i}.log`);
  return `${lines.join('\n')}\n`;
}

/** Write the make-mime spec and parts; returns the path of the built user-data. */
export function buildBigUserData() {
  const dir = path.join(scratchDir(), 'mime');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const parts = [];
  const add = (name, text, node) => {
    writeFileSync(path.join(dir, name), text);
    parts.push({ file: name, filename: name, ...node });
  };
  for (let i = 0; i < 20; i++) {
    if (i % 5 === 0) add(`cc-${i}.yaml`, cloudConfig(i, PART_BYTES), { type: 'text/cloud-config' });
    else if (i % 5 === 1) add(`gz-${i}.sh`, script(i, Math.round(PART_BYTES * 1.35)), { type: 'text/x-shellscript', gzip: true, cte: 'base64' });
    else if (i % 5 === 2) add(`qp-${i}.sh`, script(i, Math.round(PART_BYTES * 0.97)), { type: 'text/x-shellscript', cte: 'quoted-printable' });
    else if (i % 5 === 3) add(`hook-${i}.sh`, script(i, PART_BYTES, '#cloud-boothook\n#!/bin/sh'), { type: 'text/cloud-boothook' });
    else add(`sh-${i}.sh`, script(i, PART_BYTES), { type: 'text/x-shellscript' });
  }
  const spec = path.join(dir, 'mime.json');
  writeFileSync(spec, JSON.stringify({ multipart: 'mixed', boundary: '==bench-1MiB==', parts }, null, 1));
  const mime = execFileSync('python3', [path.join(TOP, 'test/helpers/make-mime.py'), spec], { cwd: dir, maxBuffer: 64 << 20 });
  const seed = path.join(scratchDir(), 'nocloud-big');
  mkdirSync(seed, { recursive: true });
  writeFileSync(path.join(seed, 'meta-data'), 'instance-id: iid-bench-userdata\nlocal-hostname: bench-ud\n');
  writeFileSync(path.join(seed, 'user-data'), mime);
  return { seed, bytes: mime.length, parts: parts.length };
}

async function series(exe, seed, template, runs) {
  const one = async () => {
    const root = freshRoot(template);
    try {
      return await measure([...exe.argv, 'query', 'userdata', '--seed', seed, '--root', root], { cwd: TOP });
    } finally {
      dropRoot(root);
    }
  };
  await one();
  const s = [];
  for (let i = 0; i < runs; i++) s.push(await one());
  const bad = s.find((r) => r.code !== 0);
  return {
    wallMs: summarize(s.map((r) => r.wallMs)),
    cpuMs: summarize(s.map((r) => r.cpuMs)),
    peakRssMB: summarize(s.map((r) => r.maxRssKiB * 1024 / 1e6)),
    ok: !bad,
    ...(bad ? { problem: `exit ${bad.code}: ${bad.stderr.trim().split('\n').slice(-2).join(' | ')}` } : {}),
    stdoutBytes: s[0]?.stdout.length,
  };
}

export async function runUserDataBench({ runs, log }) {
  const big = buildBigUserData();
  const small = path.join(TOP, 'test/fixtures/cli/nocloud');
  const template = makeTemplateRoot();
  const out = { input: { bytes: big.bytes, parts: big.parts, smallBytes: statSync(path.join(small, 'user-data')).size }, results: [] };
  try {
    for (const exe of EXECUTABLES) {
      const large = await series(exe, big.seed, template, runs);
      const baseline = await series(exe, small, template, runs);
      out.results.push({
        executable: exe.name,
        large,
        baseline,
        decodeWallMs: large.wallMs.median - baseline.wallMs.median,
        decodeCpuMs: large.cpuMs.median - baseline.cpuMs.median,
        extraRssMB: large.peakRssMB.median - baseline.peakRssMB.median,
      });
      log(`userdata ${exe.short}: 1 MiB/20 parts ${round(large.wallMs.median)} ms, ${round(large.peakRssMB.median)} MB (small seed ${round(baseline.wallMs.median)} ms, ${round(baseline.peakRssMB.median)} MB)${large.ok ? '' : `  PROBLEM: ${large.problem}`}`);
    }
  } finally {
    rmSync(template, { recursive: true, force: true });
  }
  return out;
}
