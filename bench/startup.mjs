// Section 2: where start-up time goes. The node floor (`node -e 0`), the cost
// of loading each dependency (from node_modules and as esbuild bundles it),
// which dependencies each path of the real bundle actually loads (a trace
// build with the dependencies left external), and the artefact sizes.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { EXECUTABLES, TOP, scratchDir } from './lib/inputs.mjs';
import { measure } from './lib/measure.mjs';
import { round, summarize } from './lib/stats.mjs';

export const DEPENDENCIES = ['yargs', 'js-yaml', 'pino', 'mailparser', 'systeminformation'];

/** Time `require(target)` inside a fresh node, in ms, measured by the child itself. */
const probe = (target) =>
  `const t=process.hrtime.bigint();require(${JSON.stringify(target)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;

async function requireTimes(target, runs) {
  await measure([process.execPath, '-e', probe(target)], { cwd: TOP });
  const inside = [];
  const wall = [];
  const rss = [];
  for (let i = 0; i < runs; i++) {
    const r = await measure([process.execPath, '-e', probe(target)], { cwd: TOP });
    if (r.code !== 0) throw new Error(`require(${target}) failed: ${r.stderr.slice(-300)}`);
    inside.push(Number(r.stdout));
    wall.push(r.wallMs);
    rss.push(r.maxRssKiB * 1024 / 1e6);
  }
  return { requireMs: summarize(inside), processWallMs: summarize(wall), peakRssMB: summarize(rss) };
}

/** Each dependency bundled on its own the way packaging/build.mjs bundles guestctx. */
async function bundleDependency(dep) {
  const outfile = path.join(scratchDir(), `dep-${dep}.cjs`);
  await build({
    stdin: { contents: `module.exports = require(${JSON.stringify(dep)});`, resolveDir: TOP, loader: 'js' },
    outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, keepNames: true, legalComments: 'none', logLevel: 'silent',
  });
  return outfile;
}

/** The guestctx bundle with every dependency external, for require tracing. */
export async function traceBuild() {
  const outfile = path.join(scratchDir(), 'guestctx-trace.cjs');
  const pkg = JSON.parse(readFileSync(path.join(TOP, 'package.json'), 'utf8'));
  await build({
    entryPoints: [path.join(TOP, 'src/main.ts')], outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    minify: true, keepNames: true, legalComments: 'none', logLevel: 'silent',
    // import() of an external package would go through the ESM loader, which neither NODE_PATH nor the
    // require hook sees; turned into require() it is what the real bundle does with a bundled package.
    external: DEPENDENCIES, supported: { 'dynamic-import': false }, define: { __GUESTCTX_VERSION__: JSON.stringify(pkg.version) },
  });
  return outfile;
}

/** Run the trace build with `args`; returns [{ request, ms, atMs }] in load order. */
export async function traceLoads(traceBundle, args) {
  const out = path.join(scratchDir(), `trace-${process.hrtime.bigint()}.json`);
  const r = await measure([process.execPath, '-r', path.join(TOP, 'bench/lib/require-trace.cjs'), traceBundle, ...args], {
    cwd: TOP,
    // The trace build lives in a temp folder: NODE_PATH lets its bare requires find the project's node_modules.
    env: { ...process.env, NODE_PATH: path.join(TOP, 'node_modules'), BENCH_TRACE_BUNDLE: traceBundle, BENCH_TRACE_OUT: out },
  });
  let loads = [];
  try {
    loads = JSON.parse(readFileSync(out, 'utf8'));
  } catch (err) {
    throw new Error(`trace run ${args.join(' ')} wrote no trace (exit ${r.code}): ${r.stderr.slice(-300)}`, { cause: err });
  }
  return { code: r.code, loads: loads.map((l) => ({ ...l, ms: round(l.ms, 2), atMs: round(l.atMs, 1) })) };
}

export async function runStartupBench({ runs, log }) {
  const floor = await requireTimes('node:os', runs); // a built-in: the bare node process
  log(`startup node floor: ${round(floor.processWallMs.median)} ms wall, ${round(floor.peakRssMB.median)} MB`);
  const deps = [];
  for (const dep of DEPENDENCIES) {
    const fromModules = await requireTimes(dep, runs);
    const bundled = await bundleDependency(dep);
    const fromBundle = await requireTimes(bundled, runs);
    deps.push({ dependency: dep, nodeModules: fromModules, bundled: { ...fromBundle, bytes: statSync(bundled).size } });
    log(`startup require ${dep.padEnd(17)}: ${round(fromModules.requireMs.median)} ms from node_modules, ${round(fromBundle.requireMs.median)} ms bundled (${statSync(bundled).size} B)`);
  }
  return {
    nodeFloor: floor,
    dependencies: deps,
    sizes: { bundleBytes: statSync(EXECUTABLES[0].argv[1]).size, executableBytes: statSync(EXECUTABLES[1].argv[0]).size, nodeBinaryBytes: statSync(process.execPath).size },
  };
}

/**
 * Which dependencies each path loads: the trace build run once per scenario
 * (prepared by agent.mjs's prepare) and once for the large user-data query.
 */
export async function runTraceBench({ scenarios, prepare, userDataSeed, log }) {
  const trace = await traceBuild();
  const { freshRoot, dropRoot, makeTemplateRoot } = await import('./lib/guest-root.mjs');
  const out = [];
  const record = (id, r) => {
    out.push({ path: id, exitCode: r.code, loads: r.loads });
    log(`trace ${id.padEnd(16)}: ${r.loads.length ? r.loads.map((l) => `${l.request} ${l.ms} ms`).join(', ') : 'no dependency'}${r.code ? ` (exit ${r.code})` : ''}`);
  };
  for (const sc of scenarios) {
    const p = await prepare(sc);
    try {
      const root = p.template ? freshRoot(p.template) : undefined;
      try {
        record(sc.id, await traceLoads(trace, [...sc.args(p.input), ...(root ? ['--root', root] : [])]));
      } finally {
        if (root) dropRoot(root);
      }
    } finally {
      await p.close();
    }
  }
  if (userDataSeed) {
    const template = makeTemplateRoot();
    const root = freshRoot(template);
    try {
      record('userdata-mime', await traceLoads(trace, ['query', 'userdata', '--seed', userDataSeed, '--root', root]));
    } finally {
      dropRoot(root);
      (await import('node:fs')).rmSync(template, { recursive: true, force: true });
    }
  }
  return out;
}
