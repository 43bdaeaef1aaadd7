// The single executable's entry: the bundle (dist/guestctx.cjs) and a V8 code
// cache for it are assets of the executable. The cache was taken after the
// bundle ran a sample contextualization at build time, so it holds the
// compiled form of the functions a boot uses, not only the top level that
// Node's own SEA code cache covers. Under emulation, compiling those functions
// again at every start costs a large share of a unit's time.
//
// If V8 rejects the cache (another V8 build or flags), the bundle is simply
// compiled as usual: same behaviour, slower start.
//
// At build time the same file runs under plain node with GUESTCTX_BUNDLE and
// GUESTCTX_CACHE_OUT set: it loads the bundle from that file, and writes the
// cache when the process exits (the bundle exits through process.exit).
'use strict';
// GUESTCTX_TRACE_STARTUP=1: start-up marks shared with src/log/startup-trace.ts.
const trace = process.env.GUESTCTX_TRACE_STARTUP === '1' ? (globalThis[Symbol.for('guestctx.startupMarks')] ??= []) : undefined;
trace?.push(['runtime-ready', performance.now()]);
const vm = require('node:vm');
const sea = require('node:sea');

const building = !sea.isSea();
const fs = building ? require('node:fs') : undefined;
const source = building ? fs.readFileSync(process.env.GUESTCTX_BUNDLE, 'utf8') : sea.getAsset('guestctx.cjs', 'utf8');
const cache = building ? undefined : Buffer.from(sea.getAsset('guestctx.cache'));
const filename = building ? process.env.GUESTCTX_BUNDLE : process.execPath;

// The CommonJS wrapper node would put around the file; the bundle requires built-ins only.
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename,
  ...(cache && cache.length > 0 ? { cachedData: cache } : {}),
});

trace?.push(['bundle-compiled', performance.now()]);

if (building && process.env.GUESTCTX_CACHE_OUT) {
  const out = process.env.GUESTCTX_CACHE_OUT;
  const exit = process.exit.bind(process);
  process.exit = (code) => {
    fs.writeFileSync(out, script.createCachedData());
    return exit(code);
  };
}

// GUESTCTX_CODE_CACHE=report: one line on stderr saying whether V8 took the cache (for benchmarks and tests).
if (!building && process.env.GUESTCTX_CODE_CACHE === 'report') {
  const state = !cache || cache.length === 0 ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
  process.stderr.write(`guestctx: code cache ${state} (${cache ? cache.length : 0} bytes)\n`);
}

const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, filename, require('node:path').dirname(filename));
