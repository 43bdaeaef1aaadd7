// The read-only commands in-process (runCli): query network / userdata,
// render-network, schema — against a NoCloud seed folder and a temp root.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli';
import { makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/cli');
let root: TempRoot;
afterEach(() => root?.cleanup());

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

describe('read-only commands', () => {
  it('query network shows the model bound to the NICs and the renderer', async () => {
    root = makeTempRoot();
    const r = await cli(['query', 'network', '--seed', path.join(FIX, 'nocloud'), '--root', root.dir]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { renderer: string; input: { kind: string }; network: { links: { name: string; mac: string }[] } };
    expect(doc.input.kind).toBe('cloudinit');
    expect(doc.renderer).toBe('ifupdown');
    expect(doc.network.links[0]).toMatchObject({ name: 'eth0', mac: '02:00:0a:00:00:17' });
  });

  it('render-network prints the files for a chosen renderer without writing', async () => {
    root = makeTempRoot();
    const r = await cli(['render-network', '--renderer', 'networkd', '--seed', path.join(FIX, 'nocloud'), '--root', root.dir]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/### \/etc\/systemd\/network\/10-guestctx-eth0\.network/);
    expect(r.out).toMatch(/Address=192\.0\.2\.20\/24/);
    expect(() => root.read('etc/systemd/network/10-guestctx-eth0.network')).toThrow();
  });

  it('query userdata lists the parts and redacts passwords unless --show-secrets', async () => {
    root = makeTempRoot();
    const r = await cli(['query', 'userdata', '--seed', path.join(FIX, 'nocloud'), '--root', root.dir]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { parts: { kind: string }[]; cloudConfig: Record<string, unknown> };
    expect(doc.parts.map((p) => p.kind)).toEqual(['cloud-config']);
    expect(doc.cloudConfig.hostname).toBe('web-02');
    expect(doc.cloudConfig.password).toBe('[REDACTED]');
    expect(r.out).not.toContain('s3cret-Pa55');
    const shown = await cli(['query', 'userdata', '--show-secrets', '--seed', path.join(FIX, 'nocloud'), '--root', root.dir]);
    expect(shown.out).toContain('s3cret-Pa55');
  });

  it('schema reports errors and warnings with line numbers and exits 1', async () => {
    const r = await cli(['schema', path.join(FIX, 'schema/bad.yaml')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/error: .*bad\.yaml:5: users\[0\]\.shell: expected a string, got number/);
    expect(r.out).toMatch(/warning: .*bad\.yaml:10: frobnicate/);
  });

  it('a run with this seed applies hostname from cloud-config and keys to the default user (root refused)', async () => {
    root = makeTempRoot();
    const r = await cli(['run', '--seed', path.join(FIX, 'nocloud'), '--root', root.dir, '--only', 'hostname,ssh-authorized-keys,network']);
    expect(r.err).toMatch(/stage local/);
    expect(root.read('etc/hostname')).toBe('web-02\n');
    expect(root.read('home/debian/.ssh/authorized_keys')).toMatch(/^ssh-ed25519 /);
    expect(root.read('root/.ssh/authorized_keys')).toMatch(/^no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo 'Please login as the user \\"debian\\" rather than the user \\"root\\".';echo;sleep 10;exit 142" ssh-ed25519 /);
    expect(root.read('etc/network/interfaces.d/guestctx')).toMatch(/address 192\.0\.2\.20\/24/);
    expect(r.code).toBe(0);
  });
});

describe('run --reconfigure', () => {
  it('re-applies network, hostname and keys from a changed context, and never re-runs per-instance scripts', async () => {
    root = makeTempRoot();
    const { addShell } = await import('../helpers/chroot');
    const { cpSync, mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    addShell(root.dir);
    const seed = mkdtempSync(path.join(os.tmpdir(), 'reconf-'));
    cpSync(path.join(__dirname, '../fixtures/opennebula/basic'), seed, { recursive: true });
    expect((await cli(['run', '--seed', seed, '--root', root.dir])).code).toBe(0);
    writeFileSync(root.file('var/tmp/guestctx-start-script.marker'), 'first run only');
    // The cloud changes the context (a new address, a new name), same VM.
    const ctx = readFileSync(path.join(seed, 'context.sh'), 'utf8').replace("ETH0_IP='10.0.0.23'", "ETH0_IP='10.0.0.99'").replace('web-01.example.org', 'web-02.example.org');
    writeFileSync(path.join(seed, 'context.sh'), ctx);
    const r = await cli(['run', '--reconfigure', '--seed', seed, '--root', root.dir]);
    expect(r.code).toBe(0);
    expect(root.read('etc/network/interfaces.d/guestctx')).toMatch(/address 10\.0\.0\.99\/24/);
    expect(root.read('etc/hostname')).toBe('web-02\n');
    expect(root.read('var/tmp/guestctx-start-script.marker')).toBe('first run only');
    expect(r.err).not.toMatch(/user-scripts/);
  });
});

describe('clean', () => {
  it('clean --seed also removes the seed folder; plain clean keeps it and the admin scripts', async () => {
    root = makeTempRoot();
    root.write('var/lib/guestctx/instance-id', 'i-1\n');
    root.write('var/lib/guestctx/seed/nocloud/meta-data', 'instance-id: i-1\n');
    root.write('var/lib/guestctx/scripts/per-boot/10-x', '#!/bin/sh\n', 0o755);
    const plain = await cli(['clean', '--root', root.dir]);
    expect(plain.code).toBe(0);
    expect(() => root.read('var/lib/guestctx/instance-id')).toThrow();
    expect(root.read('var/lib/guestctx/seed/nocloud/meta-data')).toBe('instance-id: i-1\n');
    expect(root.read('var/lib/guestctx/scripts/per-boot/10-x')).toBe('#!/bin/sh\n');
    const withSeed = await cli(['clean', '--seed', '--root', root.dir]);
    expect(withSeed.code).toBe(0);
    expect(() => root.read('var/lib/guestctx/seed/nocloud/meta-data')).toThrow();
  });
});
