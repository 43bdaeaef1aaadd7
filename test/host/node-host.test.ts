import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HostError } from '../../src/errors';
import { hostOn, makeTempRoot, recorder, hashTree, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());

describe('NodeHost files', () => {
  it('writes atomically with mode and owner from the guest passwd', async () => {
    root = makeTempRoot();
    const host = hostOn(root);
    expect(await host.writeFile('/home/debian/x', 'hello\n', { mode: 0o640, owner: 'debian' })).toBe(true);
    const s = statSync(root.file('home/debian/x'));
    expect(s.mode & 0o7777).toBe(0o640);
    expect(s.uid).toBe(1000);
    expect(s.gid).toBe(1000);
    expect(root.read('home/debian/x')).toBe('hello\n');
  });

  it('reports no change when content, mode and owner are the same', async () => {
    root = makeTempRoot();
    const host = hostOn(root);
    await host.writeFile('/etc/a', 'x', { mode: 0o644 });
    expect(await host.writeFile('/etc/a', 'x', { mode: 0o644 })).toBe(false);
    expect(await host.writeFile('/etc/a', 'x', { mode: 0o600 })).toBe(true);
  });

  it('resolves absolute symlinks inside the root, never on this machine', async () => {
    root = makeTempRoot();
    mkdirSync(root.file('run/systemd/resolve'), { recursive: true });
    symlinkSync('/run/systemd/resolve/stub.conf', root.file('etc/resolv.conf'));
    symlinkSync('../../../../../../../../etc', root.file('escape'));
    const host = hostOn(root);
    await host.writeFile('/etc/resolv.conf', 'nameserver 10.0.0.1\n', { mode: 0o644 });
    expect(readFileSync(root.file('run/systemd/resolve/stub.conf'), 'utf8')).toBe('nameserver 10.0.0.1\n');
    await host.writeFile('/escape/guestctx-test-file', 'inside', { mode: 0o644 });
    expect(root.read('etc/guestctx-test-file')).toBe('inside');
    expect(existsSync('/etc/guestctx-test-file')).toBe(false);
  });

  it('refuses to follow a symlink planted below a guarded directory', async () => {
    root = makeTempRoot();
    symlinkSync('/etc', root.file('home/debian/.ssh'));
    const host = hostOn(root);
    await expect(host.writeFile('/home/debian/.ssh/authorized_keys', 'k', { mode: 0o600, noSymlinkBelow: '/home/debian' })).rejects.toThrow(/symbolic link inside \/home\/debian/);
    expect(existsSync(root.file('etc/authorized_keys'))).toBe(false);
  });

  it('keeps the previous file when the write fails (read-only directory)', async () => {
    root = makeTempRoot();
    root.write('etc/ro/conf', 'old\n');
    chmodSync(root.file('etc/ro'), 0o555);
    const host = hostOn(root);
    // root bypasses directory permissions; use a file in place of the directory to force failure.
    writeFileSync(root.file('etc/notadir'), 'x');
    await expect(host.writeFile('/etc/notadir/conf', 'new', { mode: 0o644 })).rejects.toBeInstanceOf(HostError);
    expect(root.read('etc/ro/conf')).toBe('old\n');
    chmodSync(root.file('etc/ro'), 0o755);
  });

  it('fails clearly for an owner missing from the guest passwd', async () => {
    root = makeTempRoot();
    const host = hostOn(root);
    await expect(host.writeFile('/etc/x', 'x', { mode: 0o644, owner: 'nobody-here' })).rejects.toThrow(/nobody-here is not in the guest's \/etc\/passwd/);
  });
});

describe('NodeHost dry run', () => {
  it('changes nothing, records writes and commands, and later reads see the overlay', async () => {
    root = makeTempRoot();
    const before = hashTree(root.dir);
    const rec = recorder();
    const host = hostOn(root, { dryRun: true, executor: rec.executor });
    await host.mkdir('/var/lib/guestctx', { mode: 0o700 });
    await host.writeFile('/var/lib/guestctx/x', 'new', { mode: 0o600 });
    expect(await host.readText('/var/lib/guestctx/x')).toBe('new');
    expect(await host.list('/var/lib/guestctx')).toEqual(['x']);
    await host.run('hostname', ['foo']);
    expect(rec.calls).toEqual([]);
    expect(host.changes().map((c) => c.kind)).toEqual(['mkdir', 'mkdir', 'mkdir', 'write', 'command']);
    expect(hashTree(root.dir)).toBe(before);
  });
});

describe('NodeHost commands', () => {
  it('runs chrooted into a root other than /', async () => {
    root = makeTempRoot();
    const rec = recorder();
    const host = hostOn(root, { executor: rec.executor });
    await host.run('/bin/true', ['a'], { cwd: '/tmp' });
    expect(rec.calls[0]).toEqual(['chroot', root.dir, '/usr/bin/env', '-C', '/tmp', '/bin/true', 'a']);
  });

  it('finds commands in the guest PATH, not in this machine', async () => {
    root = makeTempRoot();
    root.write('usr/sbin/useradd', '#!/bin/sh\n', 0o755);
    const host = hostOn(root);
    expect(await host.which('useradd')).toBe('/usr/sbin/useradd');
    expect(await host.which('ls')).toBeUndefined();
  });

  it('names the command when it is missing', async () => {
    root = makeTempRoot();
    const host = new (await import('../../src/host/node-host')).NodeHost({ root: '/' });
    await expect(host.run('/nonexistent/tool', [])).rejects.toThrow(/command not found/);
  });
});

describe('NodeHost block access', () => {
  it('reads an image file at offsets', async () => {
    root = makeTempRoot();
    const img = path.join(root.dir, 'img');
    writeFileSync(img, Buffer.from([...Array(4096).keys()].map((i) => i % 256)));
    const host = hostOn(root);
    const b = await host.openBlock(img);
    expect(b.size).toBe(4096);
    expect([...(await b.read(2048, 4))]).toEqual([0, 1, 2, 3]);
    await expect(b.read(4090, 10)).rejects.toThrow(/past the end/);
    await b.close();
  });
});
