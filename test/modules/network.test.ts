// The network module against temp roots: the OpenNebula context -> files for
// the stack the guest has, stale files removed, the later-boot policy, and the
// DHCP fallback when the input is bad.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { memoryLogger } from '../../src/log/logger';
import type { InstanceData, ModuleContext } from '../../src/types';
import { network } from '../../modules/network';
import { hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());

const instance = (id: string): InstanceData => ({ datasource: 'test', source: 'test', instanceId: id, instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] });

function ctxFor(id = 'i-1'): ModuleContext {
  return { host: hostOn(root), log: memoryLogger(), instance: instance(id), stage: 'local', stateDir: '/var/lib/guestctx' };
}

function contextCfg(vars: Record<string, string>, id = 'i-1'): GuestConfig {
  return { ...emptyGuestConfig(id), network: { input: { kind: 'opennebula', vars: new Map(Object.entries(vars)), origin: 'context.sh' }, policy: 'new-instance' } };
}

const ETH0 = { ETH0_MAC: '02:00:0a:00:00:17', ETH0_IP: '10.0.0.23', ETH0_MASK: '255.255.255.0', ETH0_GATEWAY: '10.0.0.1', ETH0_DNS: '10.0.0.1' };

describe('network module', () => {
  it('writes ifupdown files for the NIC matched by MAC, and resolv.conf', async () => {
    root = makeTempRoot();
    const plan = network.parse(contextCfg(ETH0));
    const out = await network.run(ctxFor(), plan!);
    const eni = root.read('etc/network/interfaces.d/guestctx');
    expect(eni).toMatch(/iface eth0 inet static/);
    expect(eni).toMatch(/address 10\.0\.0\.23\/24/);
    expect(eni).toMatch(/gateway 10\.0\.0\.1/);
    expect(root.read('etc/resolv.conf')).toMatch(/nameserver 10\.0\.0\.1/);
    expect(out && 'details' in out ? out.details?.renderer : undefined).toBe('ifupdown');
  });

  it('prefers netplan when installed, with mode 0600', async () => {
    root = makeTempRoot();
    root.write('usr/sbin/netplan', '#!/bin/sh\n', 0o755);
    await network.run(ctxFor(), network.parse(contextCfg(ETH0))!);
    const files = root.read('etc/netplan/50-guestctx.yaml');
    expect(files).toMatch(/10\.0\.0\.23\/24/);
    expect(root.mode('etc/netplan/50-guestctx.yaml')).toBe(0o600);
  });

  it('does not rewrite on a later boot of the same instance with the same input', async () => {
    root = makeTempRoot();
    await network.run(ctxFor(), network.parse(contextCfg(ETH0))!);
    writeFileSync(root.file('etc/network/interfaces.d/guestctx'), '# edited by the admin\n');
    const out = await network.run(ctxFor(), network.parse(contextCfg(ETH0))!);
    expect(out && 'skipped' in out ? out.skipped : undefined).toMatch(/unchanged/);
    expect(root.read('etc/network/interfaces.d/guestctx')).toBe('# edited by the admin\n');
    await network.run(ctxFor(), network.parse(contextCfg({ ...ETH0, ETH0_IP: '10.0.0.24' }))!);
    expect(root.read('etc/network/interfaces.d/guestctx')).toMatch(/10\.0\.0\.24/);
  });

  it('a MAC that matches no NIC fails naming the key, and a first boot still gets DHCP', async () => {
    root = makeTempRoot();
    const cfg = contextCfg({ ...ETH0, ETH0_MAC: '02:00:00:00:00:99' });
    await expect(network.run(ctxFor(), network.parse(cfg)!)).rejects.toThrow(/ETH0_MAC.*DHCP on the first NIC was configured instead/);
    expect(root.read('etc/network/interfaces.d/guestctx')).toMatch(/iface eth0 inet dhcp/);
  });

  it('keeps the working configuration when later input is bad', async () => {
    root = makeTempRoot();
    await network.run(ctxFor(), network.parse(contextCfg(ETH0))!);
    const before = root.read('etc/network/interfaces.d/guestctx');
    await expect(network.run(ctxFor(), network.parse(contextCfg({ ...ETH0, ETH0_MASK: '255.0.255.0' }))!)).rejects.toThrow(/ETH0_MASK.*previous network configuration is kept/);
    expect(root.read('etc/network/interfaces.d/guestctx')).toBe(before);
  });

  it('removes stale udev persistent-net rules', async () => {
    root = makeTempRoot();
    root.write('etc/udev/rules.d/70-persistent-net.rules', 'SUBSYSTEM=="net", NAME="eth0"\n');
    mkdirSync(root.file('lib/udev/rules.d'), { recursive: true });
    writeFileSync(root.file('lib/udev/rules.d/75-persistent-net-generator.rules'), '# generator\n');
    await network.run(ctxFor(), network.parse(contextCfg(ETH0))!);
    expect(existsSync(root.file('etc/udev/rules.d/70-persistent-net.rules'))).toBe(false);
    expect(root.read('etc/udev/rules.d/75-persistent-net-generator.rules')).toBe('');
  });

  it('falls back to DHCP on the first NIC when nothing describes the network', async () => {
    root = makeTempRoot();
    await network.run(ctxFor(), network.parse(emptyGuestConfig('i-1'))!);
    expect(root.read('etc/network/interfaces.d/guestctx')).toMatch(/iface eth0 inet dhcp/);
  });
});

describe('network stack detection', () => {
  it('does not pick systemd-networkd that is installed but not enabled (Debian with ifupdown)', async () => {
    root = makeTempRoot();
    root.write('lib/systemd/systemd-networkd', '', 0o755);
    await network.run(ctxFor(), network.parse(contextCfg(ETH0))!);
    expect(root.read('etc/network/interfaces.d/guestctx')).toMatch(/iface eth0 inet static/);
  });

  it('picks systemd-networkd when its unit is enabled', async () => {
    root = makeTempRoot();
    root.write('lib/systemd/systemd-networkd', '', 0o755);
    mkdirSync(root.file('etc/systemd/system/multi-user.target.wants'), { recursive: true });
    writeFileSync(root.file('etc/systemd/system/multi-user.target.wants/systemd-networkd.service'), '');
    await network.run(ctxFor(), network.parse(contextCfg(ETH0))!);
    expect(root.read('etc/systemd/network/10-guestctx-eth0.network')).toMatch(/Address=10\.0\.0\.23\/24/);
  });
});

describe('applying on a running system', () => {
  it("with applyLive, new files are applied with the stack's own commands (ifdown/ifup per interface)", async () => {
    root = makeTempRoot();
    root.write('sbin/ifdown', '#!/bin/sh\n', 0o755);
    const rec = recorder();
    // A temp root that behaves as the running system: commands are recorded, never run.
    const host = Object.create(hostOn(root, { executor: rec.executor }), { live: { value: true } }) as ReturnType<typeof hostOn>;
    await network.run({ ...ctxFor(), host, applyLive: true }, network.parse(contextCfg(ETH0))!);
    const argv = rec.calls.map((c) => c.slice(c.indexOf('/') + 1));
    expect(argv).toEqual([
      ['ifdown', '--force', 'eth0'],
      ['ifup', 'eth0'],
    ]);
  });

  it('without applyLive (early boot) nothing is run', async () => {
    root = makeTempRoot();
    const rec = recorder();
    await network.run({ ...ctxFor(), host: hostOn(root, { executor: rec.executor }) }, network.parse(contextCfg(ETH0))!);
    expect(rec.calls).toEqual([]);
  });
});

describe('the fallback never replaces a configuration a datasource gave', () => {
  it('context CD removed on a later boot: the static configuration stays', async () => {
    root = makeTempRoot();
    await network.run(ctxFor('i-1'), network.parse(contextCfg(ETH0, 'i-1'))!);
    const before = root.read('etc/network/interfaces.d/guestctx');
    const none: ModuleContext = { ...ctxFor('i-1'), instance: { ...instance('i-1'), datasource: 'none' } };
    const out = await network.run(none, network.parse(emptyGuestConfig('i-1'))!);
    expect(out && 'skipped' in out ? out.skipped : undefined).toMatch(/keeping the network configuration written from opennebula for instance i-1/);
    expect(root.read('etc/network/interfaces.d/guestctx')).toBe(before);
  });

  it('a new instance without network data gets the DHCP fallback, as with cloud-init', async () => {
    root = makeTempRoot();
    await network.run(ctxFor('i-1'), network.parse(contextCfg(ETH0, 'i-1'))!);
    await network.run(ctxFor('i-2'), network.parse(emptyGuestConfig('i-2'))!);
    expect(root.read('etc/network/interfaces.d/guestctx')).toMatch(/iface eth0 inet dhcp/);
  });
});
