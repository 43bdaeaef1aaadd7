// One fuzz target in a worker thread. It loads the target's esbuild bundle,
// replays saved crashes, runs every seed, then mutates until told to stop.
// Before each execution the input is copied into shared memory and after it a
// counter is bumped, so the main thread can see a hang (the counter stops) and
// still know the input that caused it, even if this thread is stuck for good.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { GENERIC_TOKENS, makeRng, mutate } from './mutate.mjs';

const { bundle, seedFiles, seedBuffers, replayFiles, shared, rngSeed, maxInput } = workerData;
const ctl = new Int32Array(shared, 0, 4); // [executions, input length, stop flag, phase]
const bytes = new Uint8Array(shared, 16);
// The main thread's watchdog only watches the phases that run inputs: building
// seeds (real tools, Python) may be slow on a busy machine without being a hang.
const PHASE_REPLAY = 1;
const PHASE_FUZZ = 2;
const PHASE_SEEDING = 3;

const target = createRequire(import.meta.url)(bundle);
const { GuestctxError } = target;

function publish(input) {
  const n = Math.min(input.length, maxInput);
  bytes.set(input.subarray(0, n), 0);
  Atomics.store(ctl, 1, n);
}

/** An outcome signature: typed errors by class and message shape, so new behaviour is recognisable. */
function signature(err) {
  return `${err.name}:${String(err.message).replace(/\d+/g, 'N').replace(/"[^"]*"/g, 'S').slice(0, 100)}`;
}

/** Runs one input: undefined or a typed error is fine; anything else thrown is a finding. */
async function execute(input) {
  publish(input);
  const t0 = performance.now();
  let err;
  let returned;
  try {
    returned = await target.fuzz(input);
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  Atomics.add(ctl, 0, 1);
  // A target may return its own outcome signature (parsers that report instead of throwing).
  if (err === undefined) return { ok: true, sig: typeof returned === 'string' ? `ret:${returned.slice(0, 300)}` : 'ok', ms };
  if (err instanceof GuestctxError) return { ok: true, sig: signature(err), ms };
  return { ok: false, error: err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : `thrown non-Error: ${String(err)}`, ms };
}

// A rejection nobody awaited, or an exception thrown from an event handler (a
// stream callback), would kill or corrupt the real process: report it with the
// current input, then end this thread; the runner starts a fresh one.
for (const [event, kind] of [['unhandledRejection', 'unhandled-rejection'], ['uncaughtException', 'uncaught-exception']]) {
  process.on(event, (reason) => {
    const input = Buffer.from(bytes.subarray(0, Atomics.load(ctl, 1)));
    parentPort.postMessage({ type: 'finding', kind, input, error: reason instanceof Error ? reason.stack : String(reason) });
    process.exit(70);
  });
}

async function main() {
  Atomics.store(ctl, 3, PHASE_REPLAY);
  for (const file of replayFiles) {
    const res = await execute(readFileSync(file));
    parentPort.postMessage({ type: 'replay', file, ok: res.ok, error: res.error });
  }
  Atomics.store(ctl, 3, PHASE_SEEDING);
  let corpus;
  if (seedBuffers !== undefined) {
    // A restarted worker reuses the seeds the first one built.
    corpus = seedBuffers.map((b) => Buffer.from(b));
  } else {
    corpus = seedFiles.map((f) => readFileSync(f));
    if (typeof target.seeds === 'function') corpus.push(...(await target.seeds()));
    if (corpus.length === 0) corpus.push(Buffer.alloc(0));
    parentPort.postMessage({ type: 'seeds', buffers: corpus });
  }
  const tokens = [...GENERIC_TOKENS, ...(target.tokens ?? [])];
  const opts = { binary: target.binary === true, maxLen: Math.min(target.maxLen ?? 64 * 1024, maxInput) };
  const rng = makeRng(rngSeed);
  const seen = new Set();
  let slowest = 0;
  let found = 0;
  const report = (res, input) => {
    if (res.ms > slowest) slowest = res.ms;
    if (res.ok) {
      if (!seen.has(res.sig)) {
        seen.add(res.sig);
        if (corpus.length < 4000) corpus.push(input);
        else corpus[rng.int(corpus.length)] = input;
      }
      return;
    }
    found++;
    parentPort.postMessage({ type: 'finding', kind: 'crash', input, error: res.error });
  };
  Atomics.store(ctl, 3, PHASE_FUZZ);
  parentPort.postMessage({ type: 'ready', corpus: corpus.length });
  for (const seed of [...corpus]) report(await execute(seed), seed);
  while (Atomics.load(ctl, 2) === 0 && found < 50) {
    const input = mutate(rng, corpus, tokens, opts);
    report(await execute(input), input);
  }
  parentPort.postMessage({ type: 'done', corpus: corpus.length, outcomes: seen.size, slowestMs: Math.round(slowest) });
}

main().catch((err) => {
  parentPort.postMessage({ type: 'fatal', error: err instanceof Error ? err.stack : String(err) });
});
