// Node built-ins that only some paths need, loaded on first use. Each one a
// module imports at the top is compiled at every start, needed or not:
// crypto, child_process, http, https and zlib pull in ~50 of Node's internal modules
// (net, tls, streams, ...), which `guestctx --version`, `status` or a boot
// without a metadata service never use, and under emulation each costs
// milliseconds. process.getBuiltinModule (Node >= 20.16) works the same in the
// bundle and under vitest, without a require() that esbuild would try to follow.

type ChildProcess = typeof import('node:child_process');
type Crypto = typeof import('node:crypto');
type Http = typeof import('node:http');
type Https = typeof import('node:https');
type Zlib = typeof import('node:zlib');

function once<T>(load: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= load());
}

export const childProcess = once((): ChildProcess => process.getBuiltinModule('node:child_process'));
export const crypto = once((): Crypto => process.getBuiltinModule('node:crypto'));
export const http = once((): Http => process.getBuiltinModule('node:http'));
export const https = once((): Https => process.getBuiltinModule('node:https'));
export const zlib = once((): Zlib => process.getBuiltinModule('node:zlib'));
