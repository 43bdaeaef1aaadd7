// Table-driven golden tests: every folder under test/fixtures/network is one
// scenario (input + the guest's NICs) and expected/<renderer>/<path> holds the
// exact files each renderer must write. The netplan and ifupdown outputs are also
// fed to the real tools (netplan generate, ifup --no-act) so the goldens are not
// only what we think the formats are.
// Regenerate with UPDATE_GOLDEN=1 npx vitest run test/network/golden.test.ts — then review the diff by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindInterfaces } from '../../src/network/bind';
import { RENDERERS } from '../../src/network/index';
import type { RenderedFile } from '../../src/network/render-common';
import { loadScenario, scenarioNames } from './scenarios';

const UPDATE = process.env.UPDATE_GOLDEN === '1';
const NO_TOOLS = process.env.GUESTCTX_NO_NET_TOOLS !== undefined && process.env.GUESTCTX_NO_NET_TOOLS !== '';

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

function requireTool(path: string, pkg: string): void {
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: install it with "apt-get install -y ${pkg}" ` +
        '(or set GUESTCTX_NO_NET_TOOLS=1 to skip the real-tool checks)',
    );
  }
}

const temps: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe.each(scenarioNames())('network scenario %s', (name) => {
  const sc = loadScenario(name);

  it.each(Object.keys(sc.outputs))('%s output matches the golden files', (renderer) => {
    const files = sc.outputs[renderer] ?? [];
    const expectedDir = join(sc.dir, 'expected', renderer);
    if (UPDATE) {
      rmSync(expectedDir, { recursive: true, force: true });
      for (const f of files) {
        const p = join(expectedDir, f.path);
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, f.content);
      }
    }
    const expected = listFiles(expectedDir);
    expect(files.map((f) => f.path.replace(/^\//, ''))).toEqual(expected);
    for (const f of files) {
      expect(f.content, f.path).toBe(readFileSync(join(expectedDir, f.path), 'utf8'));
    }
  });

  it('writes secrets-capable files 0600, the rest 0644, each ending with a newline', () => {
    const all: RenderedFile[] = Object.values(sc.outputs).flat();
    expect(all.length).toBeGreaterThan(0);
    for (const f of all) {
      const secret = f.path.startsWith('/etc/netplan/') || f.path.endsWith('.nmconnection');
      expect(f.mode, f.path).toBe(secret ? 0o600 : 0o644);
      expect(f.content.endsWith('\n'), f.path).toBe(true);
      expect(f.content.includes('\n\n\n'), f.path).toBe(false);
    }
  });

  it('renders the same bytes whatever the order of the NICs', () => {
    const reversed = bindInterfaces(sc.model, [...sc.nics].reverse());
    for (const r of Object.values(RENDERERS)) {
      expect(r.render(reversed, sc.options)).toEqual(sc.outputs[r.name]);
    }
  });

  it('every file is inside what its renderer owns', async () => {
    const { isOwned } = await import('../../src/network/render-common');
    for (const r of Object.values(RENDERERS)) {
      for (const f of sc.outputs[r.name] ?? []) expect(isOwned(r.owned, f.path, f.content), f.path).toBe(true);
    }
  });

  it.skipIf(NO_TOOLS)('netplan generate turns the netplan file into the expected networkd units', () => {
    requireTool('/usr/sbin/netplan', 'netplan.io');
    const root = tempDir('guestctx-netplan-');
    const [yaml] = sc.outputs['netplan'] ?? [];
    if (!yaml) throw new Error('netplan renderer produced nothing');
    const target = join(root, yaml.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, yaml.content);
    chmodSync(target, yaml.mode);
    const res = spawnSync('/usr/sbin/netplan', ['generate', '--root-dir', root], { encoding: 'utf8' });
    expect(res.stderr, 'netplan generate stderr').not.toMatch(/error/i);
    expect(res.status, res.stderr).toBe(0);

    const unitDir = join(root, 'run', 'systemd', 'network');
    const units = readdirSync(unitDir);
    const renderer = sc.options.netplanRenderer ?? sc.bound.hint?.netplanRenderer ?? 'networkd';
    expect(renderer).toBe('networkd');
    for (const l of sc.bound.links) {
      const network = readFileSync(join(unitDir, `10-netplan-${l.name}.network`), 'utf8');
      for (const a of [...l.ipv4.addresses, ...l.ipv6.addresses]) {
        expect(network, l.name).toContain(`Address=${a.address}/${a.prefix}`);
      }
      if (l.gateway4) expect(network).toContain(`Gateway=${l.gateway4.address}`);
      if (l.gateway6) expect(network).toContain(`Gateway=${l.gateway6.address}`);
      for (const r of l.routes) expect(network).toContain(`Destination=${r.to}`);
      for (const ns of l.dns.nameservers) expect(network).toContain(`DNS=${ns}`);
      if (l.ipv4.method === 'dhcp' && l.ipv6.method === 'dhcp') expect(network).toContain('DHCP=yes');
      else if (l.ipv4.method === 'dhcp') expect(network).toContain('DHCP=ipv4');
      if (l.mtu !== undefined && l.kind === 'physical') expect(network).toContain(`MTUBytes=${l.mtu}`);
      if (l.master) expect(network).toContain(`${l.master.kind === 'bond' ? 'Bond' : 'Bridge'}=${l.master.name}`);
      if (l.kind === 'physical' && l.mac) expect(network).toContain(`PermanentMACAddress=${l.mac}`);
      if (l.rename) {
        const link = readFileSync(join(unitDir, `10-netplan-${l.name}.link`), 'utf8');
        expect(link).toContain(`Name=${l.name}`);
      }
      if (l.vlan) {
        const netdev = readFileSync(join(unitDir, `10-netplan-${l.name}.netdev`), 'utf8');
        expect(netdev).toContain('Kind=vlan');
        expect(netdev).toContain(`Id=${l.vlan.id}`);
      }
      if (l.bond) {
        const netdev = readFileSync(join(unitDir, `10-netplan-${l.name}.netdev`), 'utf8');
        expect(netdev).toContain('Kind=bond');
        expect(netdev).toContain(`Mode=${l.bond.mode}`);
      }
    }
    expect(units.filter((u) => u.endsWith('.network')).length).toBe(sc.bound.links.length);
  });

  it.skipIf(NO_TOOLS)('ifup --no-act accepts the ifupdown file and would configure every address', () => {
    requireTool('/usr/sbin/ifup', 'ifupdown');
    const dir = tempDir('guestctx-ifupdown-');
    const file = (sc.outputs['ifupdown'] ?? []).find((f) => f.path === '/etc/network/interfaces.d/guestctx');
    if (!file) throw new Error('ifupdown renderer produced no interfaces file');
    const path = join(dir, 'interfaces');
    writeFileSync(path, file.content);
    mkdirSync(join(dir, 'state'));
    // --no-act prints the commands instead of running them; nothing on this machine is touched.
    const all = spawnSync('/usr/sbin/ifup', ['--no-act', '--state-dir', join(dir, 'state'), '-i', path, '-a'], {
      encoding: 'utf8',
    });
    expect(all.status, all.stderr).toBe(0);
    expect(all.stderr).not.toMatch(/^ifup: /m);
    // ifup prints the commands it would run on stderr.
    const out = `${all.stdout}${all.stderr}`;
    for (const l of sc.bound.links) {
      for (const a of l.ipv4.addresses) expect(out, l.name).toMatch(new RegExp(`ip addr add ${a.address.replace(/\./g, '\\.')}/`));
      if (l.ipv6.method === 'static') {
        for (const a of l.ipv6.addresses) expect(out).toContain(`ip -6 addr add ${a.address}/${a.prefix}`);
      }
      if (l.ipv4.method === 'dhcp') expect(out).toContain(`dhclient -4 -v $CLIENT -pf /run/dhclient.${l.name}.pid`);
      if (l.gateway4 && l.ipv4.method === 'static') expect(out).toContain(`route add default via ${l.gateway4.address}`);
      for (const r of l.routes) expect(out).toContain(`route add ${r.to} via ${r.via ?? ''}`);
      if (l.vlan && l.name === `${l.vlan.parent}.${l.vlan.id}`) {
        expect(out).toContain(`ip link add link ${l.vlan.parent} name ${l.name} type vlan id ${l.vlan.id}`);
      }
    }
    // Each interface is also accepted on its own (what the module does for one NIC).
    for (const l of sc.bound.links.filter((x) => !x.master)) {
      const one = spawnSync('/usr/sbin/ifup', ['--no-act', '--state-dir', join(dir, 'state'), '-i', path, l.name], {
        encoding: 'utf8',
      });
      expect(one.status, `${l.name}: ${one.stderr}`).toBe(0);
      // ifup reports problems as "ifup: ..." lines; the rest of stderr is the --no-act command trace.
      expect(one.stderr, l.name).not.toMatch(/^ifup: /m);
    }
  });
});
