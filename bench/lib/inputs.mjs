// Inputs the benchmarks share: labelled ISO seeds made with xorriso (the way a
// cloud writes a context CD, config drive or cidata disk), the EC2 metadata
// test server bundled from TypeScript, and the project paths.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUNDLE = path.join(TOP, 'dist/guestctx.cjs');
export const SEA = path.join(TOP, 'dist/guestctx');

/** The two artefacts, as argv prefixes. */
export const EXECUTABLES = [
  { name: 'node dist/guestctx.cjs', short: 'cjs', argv: [process.execPath, BUNDLE] },
  { name: 'dist/guestctx', short: 'sea', argv: [SEA] },
];

/**
 * Copy both artefacts into the scratch folder and measure the copies: other
 * people rebuild dist/ while a benchmark runs, and a run that catches the
 * executable half-written measures nothing.
 */
export function snapshotArtefacts() {
  const dir = path.join(scratchDir(), 'dist');
  mkdirSync(dir, { recursive: true });
  const bundle = path.join(dir, 'guestctx.cjs');
  const sea = path.join(dir, 'guestctx');
  for (let attempt = 1; ; attempt++) {
    copyFileSync(BUNDLE, bundle);
    copyFileSync(SEA, sea);
    chmodSync(sea, 0o755);
    try {
      // Both copies must start: a copy taken mid-rebuild does not.
      execFileSync(process.execPath, [bundle, '--version'], { stdio: 'ignore', timeout: 20_000 });
      execFileSync(sea, ['--version'], { stdio: 'ignore', timeout: 20_000 });
      break;
    } catch (err) {
      if (attempt >= 5) throw new Error(`dist/ artefacts do not run (${err.message}); rebuild with npm run build`, { cause: err });
      execFileSync('sleep', ['5']);
    }
  }
  EXECUTABLES[0].argv = [process.execPath, bundle];
  EXECUTABLES[1].argv = [sea];
  return { bundle, sea };
}

let scratch;
/** One temp folder per bench process for built inputs. */
export function scratchDir() {
  scratch ??= mkdtempSync(path.join(os.tmpdir(), 'guestctx-bench-'));
  return scratch;
}

/** xorriso -as mkisofs -V LABEL -J -r DIR -> a new ISO file in the scratch folder. */
export function makeIso(dir, label, name = `${label}.iso`) {
  const out = path.join(scratchDir(), name);
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', out, '-V', label, '-J', '-r', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

let server;
/** The test helper's metadata server (test/helpers/metadata-server.ts), bundled once. */
export async function metadataServerModule() {
  if (!server) {
    const outfile = path.join(scratchDir(), 'metadata-server.mjs');
    await build({ entryPoints: [path.join(TOP, 'test/helpers/metadata-server.ts')], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'warning' });
    server = await import(pathToFileURL(outfile).href);
  }
  return server;
}

export function ec2Spec(scenario) {
  return JSON.parse(readFileSync(path.join(TOP, 'test/fixtures/datasources/ec2', scenario, 'metadata.json'), 'utf8'));
}

/** MACs the metadata tree assigns, so the guest root can carry matching NICs. */
export function ec2Nics(spec) {
  const macs = new Set();
  for (const p of Object.keys(spec.files)) {
    const m = /^\/latest\/meta-data\/network\/interfaces\/macs\/([0-9a-f:]{17})\//.exec(p);
    if (m) macs.add(m[1]);
  }
  return [...macs].map((mac, i) => ({ name: `eth${i}`, mac }));
}
