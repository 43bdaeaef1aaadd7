// The write-files modules against temp roots: a real cloud-config document
// (every encoding, owner, permissions, append, defer), http sources from a real
// server on 127.0.0.1, refused sources and paths, config drive files, and the
// bounds of a fetch.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateCloudConfigText, type CloudConfig, type WriteFileSpec } from '../../src/config/cloud-config';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { ConfigError, ModuleError } from '../../src/errors';
import { decodeContent } from '../../src/files/encoding';
import { checkGuestPath } from '../../src/files/guest-path';
import { fetchSource } from '../../src/files/source';
import { memoryLogger } from '../../src/log/logger';
import type { Host } from '../../src/host/host';
import type { InjectedFile, InstanceData, ModuleContext } from '../../src/types';
import { writeFiles, writeFilesDeferred } from '../../modules/write-files';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/modules/files');
const STATE = '/var/lib/guestctx';
/** The error a run must fail with (a run that succeeds fails the test). */
async function failure(p: Promise<unknown>): Promise<ModuleError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModuleError);
  return err as ModuleError;
}

let root: TempRoot;
afterEach(() => root?.cleanup());

const instance: InstanceData = { datasource: 'test', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

function ctxFor(host: Host) {
  const log = memoryLogger();
  const ctx: ModuleContext = { host, log, instance, stage: 'network', stateDir: STATE };
  return { ctx, log };
}

function cfg(cloud: CloudConfig, extra: Partial<GuestConfig> = {}): GuestConfig {
  return { ...emptyGuestConfig('i-1'), cloud, ...extra };
}

const files = (...items: WriteFileSpec[]): GuestConfig => cfg({ write_files: items });

// A real HTTP server for `source`: /app.conf needs a header, /missing is a 404.
let server: Server;
let base: string;
const seen: Record<string, string | undefined>[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url, token: req.headers['x-token'] as string | undefined });
    if (req.url === '/app.conf' && req.headers['x-token'] === 's3cret') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('from the server\n');
    } else if (req.url === '/app.conf') {
      res.writeHead(403).end('no');
    } else if (req.url === '/big') {
      res.writeHead(200).end(Buffer.alloc(256 * 1024, 0x61));
    } else if (req.url === '/slow') {
      // Headers, then silence: only the time limit ends this request.
      res.writeHead(200);
      res.write('partial');
    } else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('write-files: a real cloud-config document', () => {
  const parsed = validateCloudConfigText(readFileSync(path.join(FIX, 'cloud-config.yaml'), 'utf8'), 'cloud-config.yaml');

  it('validates cleanly', () => {
    expect(parsed.errors).toEqual([]);
  });

  it('writes every item with its encoding, owner and mode, appends, and leaves defer for later', async () => {
    root = makeTempRoot();
    const hostsBefore = root.read('etc/hosts');
    const { ctx } = ctxFor(hostOn(root));
    const plan = writeFiles.parse(cfg(parsed.config))!;
    expect(plan.items.map((i) => i.path)).not.toContain('/etc/nginx/later.conf');
    await writeFiles.run(ctx, plan);
    expect(root.read('etc/motd')).toBe('Welcome to the test guest.\n');
    expect(root.read('etc/guestctx/b64.txt')).toBe('hello from b64\n');
    expect(root.read('etc/guestctx/gzb64.txt')).toBe('hello from gz+b64\n');
    expect(root.mode('etc/motd')).toBe(0o644);
    expect(statSync(root.file('etc/motd')).uid).toBe(0);
    expect(root.mode('home/debian/notes.txt')).toBe(0o600);
    expect(statSync(root.file('home/debian/notes.txt'))).toMatchObject({ uid: 1000, gid: 1000 });
    expect(root.mode('usr/local/bin/hello')).toBe(0o755);
    expect(root.read('etc/hosts')).toBe(`${hostsBefore}10.0.0.9 db\n`);
    expect(existsSync(root.file('etc/nginx/later.conf'))).toBe(false);

    const deferred = writeFilesDeferred.parse(cfg(parsed.config))!;
    expect(deferred.items.map((i) => i.path)).toEqual(['/etc/nginx/later.conf']);
    await writeFilesDeferred.run(ctxFor(hostOn(root)).ctx, deferred);
    expect(root.read('etc/nginx/later.conf')).toBe('deferred');
  });

  it('a second run without append items changes nothing', async () => {
    root = makeTempRoot();
    const noAppend = { write_files: parsed.config.write_files!.filter((f) => !f.append) };
    await writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(cfg(noAppend))!);
    const before = hashTree(root.dir);
    const out = await writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(cfg(noAppend))!);
    expect(hashTree(root.dir)).toBe(before);
    expect(out && 'details' in out ? out.details : undefined).toMatchObject({ written: [] });
  });

  it('a dry run writes nothing and records every write', async () => {
    root = makeTempRoot();
    const before = hashTree(root.dir);
    const host = hostOn(root, { dryRun: true });
    await writeFiles.run(ctxFor(host).ctx, writeFiles.parse(cfg(parsed.config))!);
    expect(hashTree(root.dir)).toBe(before);
    const writes = host.changes().filter((c) => c.kind === 'write');
    expect(writes.map((c) => c.path)).toContain('/etc/guestctx/gzb64.txt');
    // A file only its owner may read is kept out of dry-run diffs.
    expect(writes.find((c) => c.path === '/home/debian/notes.txt')).toMatchObject({ secret: true });
  });

  it('an unknown encoding is an error naming the item, from the schema', () => {
    const bad = validateCloudConfigText('write_files:\n  - path: /etc/x\n    encoding: rot13\n    content: uryyb\n', 'user-data');
    expect(bad.errors.map((e) => `${e.path}: ${e.message}`).join('\n')).toMatch(/write_files\[0\]\.encoding: expected one of .*got "rot13"/);
  });
});

describe('write-files: encodings, built here', () => {
  const text = 'line one\nline two\n';
  const gz = gzipSync(Buffer.from(text));
  it.each<[string, WriteFileSpec['encoding'], string | Uint8Array]>([
    ['text/plain', 'text/plain', text],
    ['base64', 'base64', Buffer.from(text).toString('base64')],
    ['base64 folded by YAML', 'base64', Buffer.from(text).toString('base64').replace(/(.{8})/g, '$1\n  ')],
    ['gzip (!!binary bytes)', 'gzip', new Uint8Array(gz)],
    ['gzip+base64', 'gzip+base64', gz.toString('base64')],
    ['no encoding', undefined, text],
  ])('%s', async (_name, encoding, content) => {
    root = makeTempRoot();
    await writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(files({ path: '/srv/out.txt', content, ...(encoding ? { encoding } : {}) }))!);
    expect(root.read('srv/out.txt')).toBe(text);
  });

  it('binary content survives byte for byte', async () => {
    root = makeTempRoot();
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(files({ path: '/srv/bin', encoding: 'base64', content: bytes.toString('base64') }))!);
    expect(readFileSync(root.file('srv/bin')).equals(bytes)).toBe(true);
  });

  it('a gzip bomb stops at the limit', () => {
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(10_000);
    expect(() => decodeContent(new Uint8Array(bomb), 'gzip', 'write_files[0].content', 1024 * 1024)).toThrow(/inflates past the limit of 1048576 bytes/);
  });

  it('garbage is refused with the reason', () => {
    expect(() => decodeContent('aGVsbG8*', 'base64', 'write_files[3].content')).toThrow(/not valid base64: unexpected character "\*" at offset 7/);
    expect(() => decodeContent('plain text', 'gzip', 'write_files[3].content')).toThrow(/does not start with the gzip magic bytes/);
    expect(() => decodeContent(new Uint8Array(gzipSync('x').subarray(0, 12)), 'gzip', 'w')).toThrow(/cannot be decompressed/);
    expect(() => decodeContent('x', 'rot13' as never, 'w')).toThrow(/unknown encoding "rot13"/);
  });
});

describe('write-files: bad items fail alone', () => {
  it('refuses a path climbing above / and bad base64, naming the items; the others are written', async () => {
    root = makeTempRoot();
    const plan = writeFiles.parse(
      files(
        { path: '/../../etc/shadow-copy', content: 'x' },
        { path: '/etc/ok-1', content: 'one' },
        { path: '/etc/bad-b64', encoding: 'base64', content: '!!!' },
        { path: '/etc/ok-2', content: 'two' },
        { path: '/etc/owned', content: 'x', owner: 'nobody-here:root' },
      ),
    )!;
    const err = await failure(writeFiles.run(ctxFor(hostOn(root)).ctx, plan));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/write_files\[0\]\.path: "\/\.\.\/\.\.\/etc\/shadow-copy" climbs above \/ with "\.\."/);
    expect(err.message).toMatch(/write_files\[2\]\.content: content is not valid base64/);
    expect(err.message).toMatch(/owner nobody-here is not in the guest's \/etc\/passwd/);
    expect(root.read('etc/ok-1')).toBe('one');
    expect(root.read('etc/ok-2')).toBe('two');
    expect(existsSync(root.file('etc/bad-b64'))).toBe(false);
    expect(err.details?.failed).toHaveLength(3);
  });

  it.each([
    ['/etc/../etc/x', '/etc/x'],
    ['/a/./b//c', '/a/b/c'],
    ['etc/relative', '/etc/relative'],
  ])('path %s is written as %s', (raw, want) => {
    expect(checkGuestPath(raw, 'write_files[0].path').path).toBe(want);
  });

  it.each([
    ['/..', /climbs above \//],
    ['/a/../..', /climbs above \//],
    ['/etc/', /names a directory/],
    ['', /path is empty/],
    ['/', /names a directory/],
    ['/etc/..', /is the root directory/],
  ])('path %j is refused', (raw, reason) => {
    let err: unknown;
    try {
      checkGuestPath(raw, 'write_files[0].path');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).describe()).toMatch(/^write_files\[0\]\.path: /);
    expect((err as ConfigError).message).toMatch(reason);
  });

  it('append to a directory is an error for that item', async () => {
    root = makeTempRoot();
    await expect(writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(files({ path: '/etc/network', append: true, content: 'x' }))!)).rejects.toThrow(/\/etc\/network exists and is not a regular file/);
  });
});

describe('write-files: http sources', () => {
  it('fetches a source with its headers', async () => {
    root = makeTempRoot();
    await writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(files({ path: '/etc/app.conf', source: { uri: `${base}/app.conf`, headers: { 'X-Token': 's3cret' } }, content: 'fallback' }))!);
    expect(root.read('etc/app.conf')).toBe('from the server\n');
    expect(seen.at(-1)).toEqual({ url: '/app.conf', token: 's3cret' });
  });

  it('falls back to content when the source fails, with a warning', async () => {
    root = makeTempRoot();
    const { ctx, log } = ctxFor(hostOn(root));
    await writeFiles.run(ctx, writeFiles.parse(files({ path: '/etc/app.conf', source: { uri: `${base}/missing` }, content: 'fallback' }))!);
    expect(root.read('etc/app.conf')).toBe('fallback');
    expect(log.lines.join('\n')).toMatch(/write_files\[0\]\.source\.uri: fetching .*\/missing answered HTTP 404; writing write_files\[0\]\.content instead/);
  });

  it('fails the item when the source fails and there is no content', async () => {
    root = makeTempRoot();
    await expect(writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(files({ path: '/etc/app.conf', source: { uri: `${base}/app.conf` } }))!)).rejects.toThrow(/answered HTTP 403; no content to fall back to/);
    expect(existsSync(root.file('etc/app.conf'))).toBe(false);
  });

  it('refuses a file:// source (it would read the machine guestctx runs on)', async () => {
    root = makeTempRoot();
    await expect(writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(files({ path: '/etc/stolen', source: { uri: 'file:///etc/shadow' } }))!)).rejects.toThrow(/write_files\[0\]\.source\.uri: only http and https sources are allowed, not file/);
    expect(existsSync(root.file('etc/stolen'))).toBe(false);
  });

  it('bounds the size and the time of a fetch', async () => {
    root = makeTempRoot();
    const host = hostOn(root);
    await expect(fetchSource(host, `${base}/big`, undefined, 'write_files[0].source.uri', { maxBytes: 64 * 1024 })).rejects.toThrow(/larger than 65536 bytes/);
    const started = performance.now();
    await expect(fetchSource(host, `${base}/slow`, undefined, 'write_files[0].source.uri', { timeoutMs: 300 })).rejects.toThrow(/no complete answer within 300 ms/);
    expect(performance.now() - started).toBeLessThan(3000);
    expect((await fetchSource(host, `${base}/big`, undefined, 'w')).length).toBe(256 * 1024);
  });

  it('an unreachable server is a failure within the time limit', async () => {
    root = makeTempRoot();
    // Port 9 on loopback: nothing listens, the connection is refused at once.
    await expect(writeFiles.run(ctxFor(hostOn(root)).ctx, writeFiles.parse(files({ path: '/etc/x', source: { uri: 'http://127.0.0.1:9/x' } }))!)).rejects.toThrow(/cannot fetch http:\/\/127\.0\.0\.1:9\/x/);
  });
});

describe('write-files: datasource files', () => {
  it('writes config drive files 0644, root-owned', async () => {
    root = makeTempRoot();
    const injected: InjectedFile[] = [{ path: '/etc/injected.conf', content: Buffer.from('key=value\n'), origin: 'config-2:/openstack/content/0000' }];
    const plan = writeFiles.parse(cfg({}, { instance: { ...instance, files: injected } }))!;
    await writeFiles.run(ctxFor(hostOn(root)).ctx, plan);
    expect(root.read('etc/injected.conf')).toBe('key=value\n');
    expect(root.mode('etc/injected.conf')).toBe(0o644);
  });

  it('has nothing to do without write_files or injected files (a context CD alone is left to init-scripts)', () => {
    expect(writeFiles.parse(cfg({}))).toBeUndefined();
    expect(writeFiles.parse(cfg({}, { context: new Map([['TIMEZONE', 'UTC']]) }))).toBeUndefined();
    expect(writeFilesDeferred.parse(files({ path: '/etc/x', content: 'now' }))).toBeUndefined();
  });
});
