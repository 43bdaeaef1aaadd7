// Build the bundle (dist/guestctx.cjs, one file, Node >= 20) and the single
// executable (dist/guestctx, Node's single-executable-application support:
// the node binary with the bundle injected, so the guest needs no Node).
// GUESTCTX_NO_SEA=1 skips the single executable (faster local iterations).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeNoCloudSeed, makeSampleRoot } from './sample-guest.mjs';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(top, 'dist');
const pkg = JSON.parse(readFileSync(path.join(top, 'package.json'), 'utf8'));
mkdirSync(dist, { recursive: true });

const bundle = path.join(dist, 'guestctx.cjs');

/**
 * Run the bundle on sample guests (OpenNebula context, NoCloud seed with
 * cloud-config and network-config), then `status` and `detect`, all in one
 * process, and keep V8's code cache of what got compiled. Any failure only
 * costs the cache, never the build.
 */
function trainCodeCache(seaBundle, cacheFile) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'guestctx-train-'));
  try {
    const one = makeSampleRoot(path.join(work, 'one'));
    const two = makeSampleRoot(path.join(work, 'two'));
    const seed = makeNoCloudSeed(path.join(work, 'nocloud'));
    const runs = [
      ['run', '--root', one, '--seed', path.join(top, 'examples/opennebula')],
      ['run', '--root', two, '--seed', seed, '--stage', 'local'],
      ['run', '--root', two, '--seed', seed, '--stage', 'network'],
      ['run', '--root', two, '--seed', seed, '--stage', 'final'],
      ['status', '--root', two],
      ['detect', '--root', two],
      ['--version'],
    ];
    const started = Date.now();
    execFileSync(process.execPath, [path.join(top, 'packaging/sea-main.cjs')], {
      env: { ...process.env, GUESTCTX_BUNDLE: seaBundle, GUESTCTX_CACHE_OUT: cacheFile, GUESTCTX_TRAIN_CODE_CACHE: JSON.stringify(runs) },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
    });
    return statSync(cacheFile).size > 0 ? { ok: true, ms: Date.now() - started } : { ok: false, why: 'the sample run wrote an empty cache' };
  } catch (err) {
    return { ok: false, why: `the sample run failed: ${String(err.stderr ?? err.message).trim().split('\n').slice(-2).join(' ')}` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
await build({
  entryPoints: [path.join(top, 'src/main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  define: { __GUESTCTX_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
chmodSync(bundle, 0o755);
console.log(`built ${path.relative(top, bundle)} (${statSync(bundle).size} bytes)`);

if (process.env.GUESTCTX_NO_SEA !== '1') {
  // The executable runs packaging/sea-main.cjs, which runs the bundle (an
  // asset, without the shebang line) with a code cache (another asset) taken
  // after a sample run: see that file for why.
  const seaDir = path.join(dist, 'sea');
  rmSync(seaDir, { recursive: true, force: true });
  mkdirSync(seaDir, { recursive: true });
  const seaBundle = path.join(seaDir, 'bundle.cjs');
  writeFileSync(seaBundle, readFileSync(bundle, 'utf8').replace(/^#!.*\n/, ''));
  const cacheFile = path.join(seaDir, 'guestctx.cache');
  const trained = trainCodeCache(seaBundle, cacheFile);
  console.log(trained.ok ? `code cache: ${statSync(cacheFile).size} bytes after a sample run (${trained.ms} ms)` : `code cache: none (${trained.why}); the executable compiles at start-up`);
  if (!trained.ok) writeFileSync(cacheFile, '');
  const seaMain = path.join(seaDir, 'main.cjs');
  copyFileSync(path.join(top, 'packaging/sea-main.cjs'), seaMain);
  const config = path.join(seaDir, 'sea-config.json');
  const blob = path.join(seaDir, 'sea.blob');
  writeFileSync(config, JSON.stringify({ main: seaMain, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, assets: { 'guestctx.cjs': seaBundle, 'guestctx.cache': cacheFile } }));
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' });
  const exe = path.join(dist, 'guestctx');
  rmSync(exe, { force: true });
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  const postject = path.join(top, 'node_modules/postject/dist/cli.js');
  execFileSync(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(`built ${path.relative(top, exe)} (${statSync(exe).size} bytes, single executable)`);
}
