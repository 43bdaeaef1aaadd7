// Preloaded with `node -r` into the trace build of guestctx (dependencies left
// external): records which npm packages the bundle itself requires, in order,
// and how long each first require took, and writes them as JSON to
// $BENCH_TRACE_OUT when the process exits. It answers "does this path load
// mailparser / pino / ...?" without guessing from the source.
'use strict';
const Module = require('node:module');
const { writeFileSync } = require('node:fs');

const bundle = process.env.BENCH_TRACE_BUNDLE;
const out = process.env.BENCH_TRACE_OUT;
const loads = [];
const seen = new Set();
const original = Module._load;

Module._load = function traced(request, parent, isMain) {
  const fromBundle = parent && parent.filename === bundle;
  const bare = !request.startsWith('.') && !request.startsWith('/') && !request.startsWith('node:') && !Module.isBuiltin(request);
  if (!fromBundle || !bare || seen.has(request)) return original.apply(this, arguments);
  seen.add(request);
  const t0 = process.hrtime.bigint();
  try {
    return original.apply(this, arguments);
  } finally {
    loads.push({ request, ms: Number(process.hrtime.bigint() - t0) / 1e6, atMs: performance.now() });
  }
};

process.on('exit', () => {
  if (out) writeFileSync(out, JSON.stringify(loads));
});
