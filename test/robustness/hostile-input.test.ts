// Security properties against hostile context and user-data: writes into a
// user's home never follow a planted symlink; write_files cannot leave the
// guest root offline; #include is http/https only and bounded in size,
// redirects, count and depth; decompression bombs and deeply nested or very
// wide MIME are refused within a measured memory bound (in a child process);
// user scripts get a clean, documented environment and context values never
// reach a command line.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync, constants as zc } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sshAuthorizedKeys } from '../../modules/ssh-authorized-keys';
import { userScripts } from '../../modules/user-scripts';
import { writeFiles } from '../../modules/write-files';
import { HostError, LimitError } from '../../src/errors';
import { GUEST_PATH } from '../../src/host/guest-path';
import type { Executor } from '../../src/host/node-host';
import { memoryLogger } from '../../src/log/logger';
import { runPipeline } from '../../src/pipeline';
import type { InstanceData } from '../../src/types';
import { DEFAULT_LIMITS, decodeUserData } from '../../src/userdata';
import { loadUserData } from '../../src/userdata/load';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';
import { runChild } from './child';
import { ALICE_KEY, contextSeed } from './seed';

let root: TempRoot | undefined;
const scratch: string[] = [];
afterEach(() => {
  root?.cleanup();
  root = undefined;
  for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(d);
  return d;
}

async function keysRun(r: TempRoot) {
  const seed = contextSeed({ SSH_PUBLIC_KEY: ALICE_KEY, USERNAME: 'debian' });
  const result = await runPipeline({ host: hostOn(r), log: memoryLogger(), stages: ['network'], seed, modules: [sshAuthorizedKeys] });
  return result.outcomes[0]?.status.modules['ssh-authorized-keys'];
}

describe("writes into a user's home never follow a planted symlink", () => {
  it.each([
    ['~/.ssh -> /etc (absolute)', '/etc'],
    ['~/.ssh -> ../../etc (relative)', '../../etc'],
  ])('%s: refused, nothing written in /etc', async (_label, target) => {
    root = makeTempRoot();
    symlinkSync(target, root.file('home/debian/.ssh'));
    const st = await keysRun(root);
    expect(st?.result).toBe('failed');
    expect(st?.error).toMatch(/\/home\/debian\/\.ssh.*symbolic link.*refusing/);
    expect(existsSync(root.file('etc/authorized_keys'))).toBe(false);
  });

  it('~/.ssh/authorized_keys -> /etc/shadow: refused, shadow unchanged', async () => {
    root = makeTempRoot();
    root.write('etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o640);
    mkdirSync(root.file('home/debian/.ssh'), { mode: 0o700 });
    symlinkSync('/etc/shadow', root.file('home/debian/.ssh/authorized_keys'));
    const st = await keysRun(root);
    expect(st?.result).toBe('failed');
    expect(st?.error).toMatch(/authorized_keys.*symbolic link/);
    expect(root.read('etc/shadow')).toBe('root:*:19000:0:99999:7:::\n');
    expect(root.mode('etc/shadow')).toBe(0o640);
  });
});

describe('write_files stays inside the guest root offline', () => {
  it('".." paths are refused and symlinked directories resolve inside the root', async () => {
    root = makeTempRoot();
    const outside = tempDir('guestctx-outside-');
    // A directory in the image that points at a host path: it must be re-rooted, not followed.
    mkdirSync(root.file('var'), { recursive: true });
    mkdirSync(root.file('tmp'), { recursive: true });
    symlinkSync(outside, root.file('var/www'));
    const ud = `#cloud-config
write_files:
  - {path: ../../../../../${outside.slice(1)}/climb.txt, content: climb}
  - {path: /var/www/via-link.txt, content: link}
  - {path: /etc/../../../../etc/climb2.txt, content: climb}
  - {path: /etc/./sub/../inside.txt, content: fine}
`;
    const seed = contextSeed({ USER_DATA: ud });
    const result = await runPipeline({ host: hostOn(root), log: memoryLogger(), stages: ['network'], seed, modules: [writeFiles] });
    const st = result.outcomes[0]?.status.modules['write-files'];
    expect(st?.result).toBe('failed');
    expect(st?.error).toMatch(/write_files\[0\]\.path.*climbs above \//);
    expect(existsSync(path.join(outside, 'climb.txt'))).toBe(false);
    expect(existsSync(path.join(outside, 'via-link.txt'))).toBe(false);
    expect(readFileSync(path.join(root.dir, outside, 'via-link.txt'), 'utf8')).toBe('link');
    expect(st?.error).toMatch(/write_files\[2\]\.path.*climbs above \//);
    expect(existsSync(root.file('etc/climb2.txt'))).toBe(false);
    // ".." that stays below "/" is only normalised.
    expect(root.read('etc/inside.txt')).toBe('fine');
  });
});

describe('#include is http/https only and bounded', () => {
  let server: http.Server;
  let base = '';
  const BIG = 17 * 1024 * 1024;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      const hop = /^\/hop\/(\d+)$/.exec(url);
      if (hop) return void res.writeHead(302, { location: `/hop/${Number(hop[1]) + 1}` }).end();
      if (url === '/to-file') return void res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      if (url === '/big') {
        res.writeHead(200, { 'content-length': String(BIG) });
        return void res.end(Buffer.alloc(BIG, 0x61));
      }
      if (url === '/self') return void res.end(`#include\n${base}/self\n`);
      if (url === '/hang') return;
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const instance = (userData: string): InstanceData => ({ datasource: 'test', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], userData: Buffer.from(userData), raw: {}, secretKeys: [], problems: [] });

  it('refuses file:, ftp: and data: URLs, a redirect to file:, too many redirects and a 17 MiB body', async () => {
    root = makeTempRoot();
    const ud = ['#include', 'file:///etc/passwd', 'ftp://127.0.0.1/x', 'data:text/plain,hi', `${base}/to-file`, `${base}/hop/0`, `${base}/big`].join('\n');
    const t0 = performance.now();
    const out = await loadUserData(hostOn(root), instance(ud), '/var/lib/guestctx');
    expect(performance.now() - t0).toBeLessThan(5000);
    const errs = out.errors.join('\n');
    expect(errs).toMatch(/include file:\/\/\/etc\/passwd: refusing to include a file URL/);
    expect(errs).toMatch(/include ftp:.*refusing to include a ftp URL/);
    expect(errs).toMatch(/include data:.*refusing to include a data URL/);
    expect(errs).toMatch(/to-file.*only http and https/);
    expect(errs).toMatch(/hop\/0.*too many redirects/);
    expect(errs).toMatch(/big.*larger than 16777216 bytes/);
    expect(out.parts.filter((p) => p.kind !== 'include')).toEqual([]);
  });

  it('a self-including URL stops at the include depth limit', async () => {
    root = makeTempRoot();
    const out = await loadUserData(hostOn(root), instance(`#include\n${base}/self\n`), '/var/lib/guestctx');
    expect(out.parts.filter((p) => p.kind === 'include')).toHaveLength(DEFAULT_LIMITS.maxIncludeDepth + 1);
    expect(out.errors.join('\n')).toMatch(/includes nested more than 5 levels deep/);
  });

  it('more than 20 includes: the rest are not fetched', async () => {
    let fetched = 0;
    const urls = Array.from({ length: 30 }, (_, i) => `http://example.invalid/${i}`);
    const out = await decodeUserData(Buffer.from(`#include\n${urls.join('\n')}\n`), {
      source: 'user-data',
      fetch: async () => {
        fetched++;
        return Buffer.from('#cloud-config\n');
      },
    });
    expect(fetched).toBe(DEFAULT_LIMITS.maxIncludes);
    expect(out.errors.map((e) => e.message).join('\n')).toMatch(/more than 20 includes/);
  });

  it('a server that never answers costs the request its timeout, not more', async () => {
    root = makeTempRoot();
    const t0 = performance.now();
    const err = await hostOn(root)
      .fetch(`${base}/hang`, { timeoutMs: 300, maxBytes: 1024 })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect((err as Error).message).toMatch(/no complete answer within 300 ms/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('decompression bombs and hostile MIME, in a child process', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-bombs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** RSS growth allowed on top of the 64 MiB decompression budget: buffers, zlib state, the parser. */
  const OVERHEAD_KIB = 40 * 1024;
  const BUDGET_KIB = DEFAULT_LIMITS.maxDecompressedBytes / 1024;

  async function decodeInChild(name: string, data: Buffer) {
    const file = path.join(dir, name);
    writeFileSync(file, data);
    const res = await runChild('decode-userdata', [file], { timeoutMs: 20_000, nodeArgs: ['--expose-gc'] });
    expect(res.code, res.stderr).toBe(0);
    return JSON.parse(res.stdout) as { errors: { name: string; message: string }[]; parts: number; ms: number; growthKiB: number };
  }

  it('gzip of 256 MiB of zeros (256 KiB on the wire), one or two layers: LimitError, RSS growth < budget + 40 MiB', async () => {
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9, strategy: zc.Z_RLE });
    expect(bomb.length).toBeLessThan(300 * 1024);
    for (const [name, data] of [['bomb1.gz', bomb], ['bomb2.gz', gzipSync(bomb)]] as const) {
      const out = await decodeInChild(name, data);
      expect(out.errors.map((e) => e.name)).toEqual([LimitError.name]);
      expect(out.errors[0]?.message).toMatch(/inflates past the limit/);
      expect(out.growthKiB).toBeLessThan(BUDGET_KIB + OVERHEAD_KIB);
    }
  });

  it('MIME nested 20 000 levels and MIME with 20 000 parts: LimitError, RSS growth < 40 MiB', async () => {
    let deep = 'Content-Type: text/x-shellscript\r\n\r\n#!/bin/sh\r\n';
    for (let i = 0; i < 20_000; i++) deep = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${deep}\r\n--b${i}--\r\n`;
    const wide = `--b\r\nContent-Type: text/x-shellscript\r\n\r\n#!/bin/sh\r\n`.repeat(20_000);
    for (const [name, data] of [
      ['deep.txt', `MIME-Version: 1.0\r\n${deep}`],
      ['wide.txt', `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n${wide}--b--\r\n`],
    ] as const) {
      const out = await decodeInChild(name, Buffer.from(data));
      expect(out.parts).toBe(0);
      expect(out.errors.map((e) => e.name)).toEqual([LimitError.name]);
      expect(out.growthKiB).toBeLessThan(OVERHEAD_KIB);
    }
  });
});

describe('user scripts: clean environment, no context value on a command line', () => {
  it('the script gets exactly the context variables and the documented variables; argv never carries a value', async () => {
    root = makeTempRoot();
    root.write('bin/sh', '#!/bin/sh\n', 0o755);
    const calls: { argv: readonly string[]; env: Record<string, string> }[] = [];
    const executor: Executor = async (argv, opts) => {
      calls.push({ argv, env: opts.env });
      return { code: 0, stdout: '', stderr: '' };
    };
    const hostile = '$(touch /tmp/pwned); `id`; rm -rf / #';
    const script = '#!/bin/sh\necho "$MY_VAR"\n';
    const vars = { SET_HOSTNAME: 'env-01', MY_VAR: hostile, QUOTED: "a'b\"c", PATH: '/evil/bin', START_SCRIPT: script };
    process.env.GUESTCTX_LEAK_PROBE = 'must-not-leak';
    try {
      const seed = contextSeed(vars);
      await runPipeline({ host: hostOn(root, { executor }), log: memoryLogger(), stages: ['final'], seed, modules: [userScripts] });
    } finally {
      delete process.env.GUESTCTX_LEAK_PROBE;
    }
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.argv.slice(-1)[0]).toBe('/var/lib/guestctx/instance/scripts/start-script');
    const env = call?.env ?? {};
    const documented = ['PATH', 'HOME', 'LANG', 'INSTANCE_ID', 'GUESTCTX_DATASOURCE'];
    expect(Object.keys(env).filter((k) => !documented.includes(k) && !(k in vars) && k !== 'VMID')).toEqual([]);
    expect(env.GUESTCTX_LEAK_PROBE).toBeUndefined();
    expect(env.PATH).toBe(GUEST_PATH);
    expect(env.HOME).toBe('/root');
    expect(env.INSTANCE_ID).toBe('4711');
    expect(env.GUESTCTX_DATASOURCE).toBe('opennebula');
    expect(env.MY_VAR).toBe(hostile);
    expect(env.QUOTED).toBe("a'b\"c");
    for (const value of [hostile, "a'b\"c", script]) for (const c of calls) expect(c.argv.join(' ')).not.toContain(value);
    expect(existsSync('/tmp/pwned')).toBe(false);
  });

  it('with a real shell the script sees the value as data, and nothing is executed from it', () => {
    // The environment is handed to exec as data: a real sh printing "$MY_VAR" prints it verbatim.
    const hostile = '$(touch /tmp/guestctx-pwned-probe)`id`';
    const out = execFileSync('/bin/sh', ['-c', 'printf %s "$MY_VAR"'], { env: { MY_VAR: hostile, PATH: GUEST_PATH } }).toString();
    expect(out).toBe(hostile);
    expect(existsSync('/tmp/guestctx-pwned-probe')).toBe(false);
  });
});
