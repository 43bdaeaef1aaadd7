// Build the bundle (dist/guestctx.cjs, one file, Node >= 20) and the single
// executable (dist/guestctx, Node's single-executable-application support:
// the node binary with the bundle injected, so the guest needs no Node).
// GUESTCTX_NO_SEA=1 skips the single executable (faster local iterations).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(top, 'dist');
const pkg = JSON.parse(readFileSync(path.join(top, 'package.json'), 'utf8'));
mkdirSync(dist, { recursive: true });

const bundle = path.join(dist, 'guestctx.cjs');
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
  // The SEA blob must be plain CommonJS without the shebang line.
  const seaDir = path.join(dist, 'sea');
  rmSync(seaDir, { recursive: true, force: true });
  mkdirSync(seaDir, { recursive: true });
  const seaMain = path.join(seaDir, 'main.cjs');
  writeFileSync(seaMain, readFileSync(bundle, 'utf8').replace(/^#!.*\n/, ''));
  const config = path.join(seaDir, 'sea-config.json');
  const blob = path.join(seaDir, 'sea.blob');
  writeFileSync(config, JSON.stringify({ main: seaMain, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' });
  const exe = path.join(dist, 'guestctx');
  rmSync(exe, { force: true });
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  const postject = path.join(top, 'node_modules/postject/dist/cli.js');
  execFileSync(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(`built ${path.relative(top, exe)} (${statSync(exe).size} bytes, single executable)`);
}
