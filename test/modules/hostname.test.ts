// hostname: cleaning and validation (table), /etc/hosts editing, and the
// OpenNebula ways to name the guest (SET_HOSTNAME, DNS_HOSTNAME, EC2_HOSTNAME).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGuestConfig } from '../../src/config/build';
import { memoryLogger } from '../../src/log/logger';
import type { InstanceData, ModuleContext } from '../../src/types';
import { cleanHostname, hostname, planHostname, updateEtcHosts } from '../../modules/hostname';
import { hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());

function contextInstance(vars: Record<string, string>): InstanceData {
  return { datasource: 'opennebula', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], context: new Map(Object.entries(vars)), raw: vars, secretKeys: [], problems: [] };
}

describe('hostname values', () => {
  it.each([
    ['"web-01"', 'web-01'],
    ["'db.example.org'", 'db.example.org'],
    ['  spaced  ', 'spaced'],
    ['fqdn.example.org.', 'fqdn.example.org'],
  ])('cleans %s to %s', (raw, clean) => {
    expect(cleanHostname(raw)).toBe(clean);
  });

  it.each([
    ['bad_name', /label "bad_name"/],
    ['-lead', /label "-lead"/],
    ['a'.repeat(64), /label/],
    ['', /hostname is empty/],
  ])('rejects %s naming the origin', (name, msg) => {
    expect(() => planHostname({ hostname: name, preferFqdn: false, preserve: false, manageEtcHosts: true, origin: 'context SET_HOSTNAME' })).toThrow(msg);
  });

  it('splits an fqdn, honours prefer_fqdn_over_hostname and preserve_hostname', () => {
    expect(planHostname({ hostname: 'web.example.org', preferFqdn: false, preserve: false, manageEtcHosts: true, origin: 'x' })).toMatchObject({ short: 'web', fqdn: 'web.example.org', name: 'web' });
    expect(planHostname({ hostname: 'web', fqdn: 'web.example.org', preferFqdn: true, preserve: false, manageEtcHosts: true, origin: 'x' })).toMatchObject({ name: 'web.example.org' });
    expect(planHostname({ hostname: 'web', preferFqdn: false, preserve: true, manageEtcHosts: true, origin: 'x' })).toBeUndefined();
  });

  it('edits only the 127.0.1.1 line of /etc/hosts', () => {
    const plan = { short: 'web', fqdn: 'web.example.org', name: 'web', manageEtcHosts: true as const, origin: 'x' };
    expect(updateEtcHosts('127.0.0.1 localhost\n127.0.1.1 old\n10.0.0.5 db\n', plan)).toBe('127.0.0.1 localhost\n127.0.1.1\tweb.example.org web\n10.0.0.5 db\n');
    expect(updateEtcHosts('', plan)).toBe('127.0.0.1\tlocalhost\n127.0.1.1\tweb.example.org web\n');
  });
});

describe('OpenNebula hostname lookups', () => {
  const ctxFor = (executor?: ReturnType<typeof recorder>['executor']): ModuleContext => ({
    host: hostOn(root, executor ? { executor } : {}),
    log: memoryLogger(),
    instance: contextInstance({}),
    stage: 'local',
    stateDir: '/var/lib/guestctx',
  });

  it('DNS_HOSTNAME=YES names the guest by the reverse DNS of its first address (the guest getent)', async () => {
    root = makeTempRoot();
    root.write('usr/bin/getent', '#!/bin/sh\n', 0o755);
    const rec = recorder((argv) => (argv.includes('getent') ? { code: 0, stdout: '10.0.0.23       vm23.cloud.example.org\n', stderr: '' } : undefined));
    const cfg = buildGuestConfig(contextInstance({ DNS_HOSTNAME: 'YES', ETH1_IP: '10.0.1.9', ETH0_IP: '10.0.0.23' }), {});
    const work = hostname.parse(cfg);
    await hostname.run(ctxFor(rec.executor), work!);
    expect(rec.calls[0]?.slice(-3)).toEqual(['getent', 'hosts', '10.0.0.23']);
    expect(root.read('etc/hostname')).toBe('vm23\n');
    expect(root.read('etc/hosts')).toContain('127.0.1.1\tvm23.cloud.example.org vm23');
  });

  it('DNS_HOSTNAME without an answer fails naming the variable', async () => {
    root = makeTempRoot();
    root.write('usr/bin/getent', '#!/bin/sh\n', 0o755);
    const rec = recorder(() => ({ code: 2, stdout: '', stderr: '' }));
    const work = hostname.parse(buildGuestConfig(contextInstance({ DNS_HOSTNAME: 'yes', ETH0_IP: '10.0.0.23' }), {}));
    await expect(hostname.run(ctxFor(rec.executor), work!)).rejects.toMatchObject({ source: expect.stringMatching(/^context DNS_HOSTNAME/), message: 'no reverse DNS name for 10.0.0.23' });
  });

  it('EC2_HOSTNAME=YES takes local-hostname from the metadata service', async () => {
    root = makeTempRoot();
    const server = http.createServer((req, res) => {
      if (req.url === '/latest/meta-data/local-hostname') res.end('ip-10-0-0-23.ec2.internal');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const work = hostname.parse(buildGuestConfig(contextInstance({ EC2_HOSTNAME: 'YES' }), { metadataUrl: url }));
      await hostname.run(ctxFor(), work!);
      expect(root.read('etc/hostname')).toBe('ip-10-0-0-23\n');
    } finally {
      server.close();
    }
  });

  it('SET_HOSTNAME wins over DNS_HOSTNAME', () => {
    const work = hostname.parse(buildGuestConfig(contextInstance({ SET_HOSTNAME: 'given', DNS_HOSTNAME: 'YES', ETH0_IP: '10.0.0.1' }), {}));
    expect(work).toMatchObject({ plan: { name: 'given' } });
  });
});
