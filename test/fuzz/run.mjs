#!/usr/bin/env node
// The fuzz runner (`npm run fuzz`). Each target in test/fuzz/targets/ is bundled
// with esbuild into a temporary CommonJS file and run in a worker thread (see
// worker.mjs) for FUZZ_SECONDS (default 60) each. A target may only throw the
// project's typed errors (GuestctxError and subclasses); anything else, an
// unhandled rejection, running out of memory or an input that takes longer
// than FUZZ_TIMEOUT_MS (default 5000) is a finding: the input is saved under
// test/fixtures/fuzz/crashes/ with a .txt describing it, and the run exits 1.
// Saved crashes of a target are replayed first on every run, so a fixed bug
// stays fixed and an open one keeps failing the run.
//
// A target exports fuzz(data: Buffer): void | string | Promise<...>; a returned
// string is an outcome signature (inputs with a new one join the corpus), and
// optionally seeds(), tokens, binary and maxLen (see targets/*.ts).
//
// Environment:
//   FUZZ_SECONDS=60      time per target
//   FUZZ_TARGET=name     one target (comma-separated list allowed)
//   FUZZ_TIMEOUT_MS=5000 per-input watchdog
//   FUZZ_SEED=n          PRNG seed (printed; random by default)
//   FUZZ_REPRO=file      run this one input against FUZZ_TARGET and print the outcome
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const TARGETS_DIR = path.join(HERE, 'targets');
const SEEDS_DIR = path.join(REPO, 'test/fixtures/fuzz');
const CRASH_DIR = path.join(SEEDS_DIR, 'crashes');
const MAX_INPUT = 4 * 1024 * 1024;
/** Fresh workers started after a hang or a crash of the thread, per target. */
const MAX_RESTARTS = 10;

const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
const timeoutMs = Number(process.env.FUZZ_TIMEOUT_MS ?? 5000);
const baseSeed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fffffff);

function allTargets() {
  return readdirSync(TARGETS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

function filesIn(dir, accept = () => true) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => path.join(dir, f))
    .filter((p) => statSync(p).isFile() && accept(p))
    .sort();
}

/** Bundle target + GuestctxError into one CommonJS file, so `instanceof` sees the same class. */
async function bundleTarget(name, outDir) {
  const outfile = path.join(outDir, `${name}.cjs`);
  await build({
    stdin: {
      contents: `export * from './targets/${name}';\nexport { GuestctxError } from '../../src/errors';\n`,
      resolveDir: HERE,
      sourcefile: `fuzz-${name}.ts`,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    sourcemap: 'inline',
    logLevel: 'error',
    // Targets read fixtures relative to the repository.
    define: { __FUZZ_REPO__: JSON.stringify(REPO) },
  });
  return outfile;
}

function saveFinding(target, kind, input, error) {
  mkdirSync(CRASH_DIR, { recursive: true });
  const id = createHash('sha1').update(input).digest('hex').slice(0, 12);
  const base = path.join(CRASH_DIR, `${target}-${kind}-${id}`);
  writeFileSync(`${base}.bin`, input);
  writeFileSync(
    `${base}.txt`,
    `target: ${target}\nkind: ${kind}\nbytes: ${input.length}\nreproduce: FUZZ_TARGET=${target} FUZZ_REPRO=${path.relative(REPO, base)}.bin node test/fuzz/run.mjs\n\n${error}\n`,
  );
  return path.relative(REPO, `${base}.bin`);
}

/** First line of the error plus the first stack frame in our code: one bug, one report. */
function bugKey(kind, error) {
  const lines = String(error).split('\n');
  const frame = lines.find((l) => /^\s+at /.test(l) && !l.includes('node:internal') && !l.includes('worker.mjs')) ?? '';
  return `${kind}|${(lines[0] ?? '').replace(/\d+/g, 'N').slice(0, 120)}|${frame.trim()}`;
}

/**
 * Runs one worker until `deadline`. Resolves with its statistics; hangs and
 * crashes of the thread itself are reported through `onFinding`.
 */
function runWorker(bundle, opts) {
  const shared = new SharedArrayBuffer(16 + MAX_INPUT);
  const ctl = new Int32Array(shared, 0, 4);
  const bytes = new Uint8Array(shared, 16);
  const current = () => Buffer.from(bytes.subarray(0, Atomics.load(ctl, 1)));
  const worker = new Worker(path.join(HERE, 'worker.mjs'), {
    workerData: { bundle, seedFiles: opts.seedFiles, seedBuffers: opts.seedBuffers, replayFiles: opts.replayFiles, shared, rngSeed: opts.rngSeed, maxInput: MAX_INPUT },
    resourceLimits: { maxOldGenerationSizeMb: 1536 },
    stdout: true,
    stderr: true,
  });
  // Targets must be quiet; drain what they print so a chatty one cannot block.
  worker.stdout.resume();
  worker.stderr.resume();
  return new Promise((resolve) => {
    const stats = { executions: 0, corpus: 0, outcomes: 0, slowestMs: 0, hung: false, ready: false, done: false };
    let lastCount = -1;
    let lastChange = performance.now();
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(tick);
      stats.executions = Atomics.load(ctl, 0);
      resolve(stats);
    };
    const tick = setInterval(() => {
      const count = Atomics.load(ctl, 0);
      const now = performance.now();
      if (count !== lastCount) {
        lastCount = count;
        lastChange = now;
      } else if (Atomics.load(ctl, 3) === 1 || Atomics.load(ctl, 3) === 2) {
        // Phases 1 (replay) and 2 (fuzzing) run inputs; 0 and 3 load and build seeds.
        if (now - lastChange > timeoutMs) {
          stats.hung = true;
          clearInterval(tick);
          opts.onFinding('hang', current(), `no result within ${timeoutMs} ms (per-input watchdog)`);
          void worker.terminate().then(finish);
          return;
        }
      } else {
        lastChange = now;
      }
      if (now >= opts.deadline && Atomics.load(ctl, 2) === 0) {
        Atomics.store(ctl, 2, 1);
        // A worker that does not stop within the watchdog time is terminated.
        setTimeout(() => void worker.terminate().then(finish), timeoutMs).unref();
      }
    }, 50);
    worker.on('message', (msg) => {
      if (msg.type === 'seeds') {
        opts.onSeeds(msg.buffers);
      } else if (msg.type === 'ready') {
        stats.ready = true;
        stats.corpus = msg.corpus;
      } else if (msg.type === 'finding') {
        opts.onFinding(msg.kind, Buffer.from(msg.input), msg.error);
      } else if (msg.type === 'replay') {
        opts.onReplay(msg);
      } else if (msg.type === 'done') {
        stats.done = true;
        Object.assign(stats, { corpus: msg.corpus, outcomes: msg.outcomes, slowestMs: msg.slowestMs });
      } else if (msg.type === 'fatal') {
        opts.onFinding('runner-error', current(), msg.error);
      }
    });
    worker.on('error', (err) => {
      const kind = err?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out-of-memory' : 'worker-crash';
      opts.onFinding(kind, current(), err?.stack ?? String(err));
    });
    worker.on('exit', finish);
  });
}

async function fuzzTarget(name, outDir, index) {
  const bundle = await bundleTarget(name, outDir);
  const seedFiles = filesIn(path.join(SEEDS_DIR, name));
  const replayFiles = filesIn(CRASH_DIR, (p) => path.basename(p).startsWith(`${name}-`) && p.endsWith('.bin'));
  const findings = new Map();
  const replayFailures = [];
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let executions = 0;
  let corpus = 0;
  let outcomes = 0;
  let slowestMs = 0;
  let restarts = 0;
  let replay = replayFiles;
  let seedBuffers;
  const onSeeds = (buffers) => {
    seedBuffers = buffers;
  };
  const onFinding = (kind, input, error) => {
    const key = bugKey(kind, error);
    if (findings.has(key)) {
      findings.get(key).count++;
      return;
    }
    // A replayed crash that still fails is already saved: do not save it again.
    const file = saveFinding(name, kind, input, error);
    findings.set(key, { kind, file, count: 1, error: String(error).split('\n').slice(0, 3).join(' | ') });
  };
  const onReplay = (msg) => {
    if (!msg.ok) replayFailures.push(path.relative(REPO, msg.file));
  };
  while (performance.now() < deadline) {
    const stats = await runWorker(bundle, { seedFiles, seedBuffers, replayFiles: replay, rngSeed: baseSeed + index * 7919 + restarts, deadline, onFinding, onReplay, onSeeds });
    replay = [];
    executions += stats.executions;
    corpus = Math.max(corpus, stats.corpus);
    outcomes = Math.max(outcomes, stats.outcomes);
    slowestMs = Math.max(slowestMs, stats.slowestMs);
    // A worker that ended early (hang, crash, uncaught exception) is replaced until the time is up.
    if (stats.done || ++restarts > MAX_RESTARTS) break;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { name, executions, elapsed, corpus, outcomes, slowestMs, findings: [...findings.values()], replayFailures };
}

async function repro(file, name, outDir) {
  const bundle = await bundleTarget(name, outDir);
  const { createRequire } = await import('node:module');
  const target = createRequire(import.meta.url)(bundle);
  const { readFileSync } = await import('node:fs');
  const input = readFileSync(file);
  const t0 = performance.now();
  try {
    await target.fuzz(input);
    console.log(`${name}: no error (${Math.round(performance.now() - t0)} ms)`);
    return 0;
  } catch (err) {
    const typed = err instanceof target.GuestctxError;
    console.log(`${name}: ${typed ? 'typed error (fine)' : 'FINDING'} after ${Math.round(performance.now() - t0)} ms`);
    console.log(err instanceof Error ? err.stack : String(err));
    return typed ? 0 : 1;
  }
}

async function main() {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-fuzz-'));
  try {
    const wanted = process.env.FUZZ_TARGET ? process.env.FUZZ_TARGET.split(',').map((s) => s.trim()) : allTargets();
    const unknown = wanted.filter((t) => !allTargets().includes(t));
    if (unknown.length > 0) {
      console.error(`unknown fuzz target(s): ${unknown.join(', ')}; known: ${allTargets().join(', ')}`);
      return 2;
    }
    if (process.env.FUZZ_REPRO) {
      if (wanted.length !== 1) {
        console.error('FUZZ_REPRO needs exactly one FUZZ_TARGET');
        return 2;
      }
      return await repro(path.resolve(process.env.FUZZ_REPRO), wanted[0], outDir);
    }
    console.log(`fuzzing ${wanted.length} target(s), ${seconds} s each, watchdog ${timeoutMs} ms, seed ${baseSeed}`);
    const results = [];
    for (const [i, name] of wanted.entries()) {
      const r = await fuzzTarget(name, outDir, i);
      results.push(r);
      const rate = Math.round(r.executions / Math.max(r.elapsed, 0.001));
      console.log(
        `${name.padEnd(16)} ${String(r.executions).padStart(9)} execs  ${String(rate).padStart(7)}/s  corpus ${String(r.corpus).padStart(5)}  outcomes ${String(r.outcomes).padStart(4)}  slowest ${r.slowestMs} ms  findings ${r.findings.length + r.replayFailures.length}`,
      );
      for (const f of r.findings) console.log(`  ${f.kind} x${f.count}: ${f.file}\n    ${f.error}`);
      for (const f of r.replayFailures) console.log(`  saved crash still fails: ${f}`);
    }
    const total = results.reduce((n, r) => n + r.findings.length + r.replayFailures.length, 0);
    console.log(total === 0 ? 'no findings' : `${total} finding(s); inputs saved under ${path.relative(REPO, CRASH_DIR)}/`);
    return total === 0 ? 0 : 1;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
