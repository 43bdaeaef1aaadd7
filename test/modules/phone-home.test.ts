// phone-home against a real HTTP server on 127.0.0.1 and a temp guest root
// holding real SSH host keys made by ssh-keygen: the form fields posted, the
// $INSTANCE_ID substitution, retries bounded by `tries`, "N/A" for what the
// guest lacks, and the skip offline. The configuration goes the real way:
// user-data bytes decoded by the user-data loader, then buildGuestConfig.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGuestConfig } from '../../src/config/build';
import type { GuestConfig } from '../../src/config/guest-config';
import { ConfigError, ModuleError } from '../../src/errors';
import type { Host } from '../../src/host/host';
import { memoryLogger } from '../../src/log/logger';
import { loadUserData } from '../../src/userdata/load';
import type { InstanceData, ModuleContext } from '../../src/types';
import { displayUrl, fqdnFromHosts, phoneHome, phoneHomeUrl, type PhoneHomePlan } from '../../modules/phone-home';
import { startRecordingServer, type Answer, type TestServer } from '../helpers/onegate-server';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIXTURE = path.join(__dirname, '../fixtures/modules/final/phone-home/cloud-config.yaml');

let root: TempRoot | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  root?.cleanup();
  root = undefined;
  await server?.close();
  server = undefined;
});

/** The temp root standing for the booted guest (host.live); it only reads files there. */
function bootedGuest(r: TempRoot): Host {
  return Object.create(hostOn(r), { live: { value: true } }) as Host;
}

function instanceWith(userData: string, id = 'i-0abc123'): InstanceData {
  return { datasource: 'nocloud', source: 'test', instanceId: id, instanceIdRule: 'test', publicKeys: [], userData: Buffer.from(userData), raw: {}, secretKeys: [], problems: [] };
}

async function configFor(r: TempRoot, instance: InstanceData): Promise<GuestConfig> {
  const loaded = await loadUserData(hostOn(r), instance, '/var/lib/guestctx');
  expect(loaded.errors).toEqual([]);
  return buildGuestConfig(instance, {}, loaded);
}

/** Real host keys of the three types phone_home knows, generated into the guest's /etc/ssh. */
function addHostKeys(r: TempRoot, types: readonly string[] = ['rsa', 'ecdsa', 'ed25519']): Record<string, string> {
  mkdirSync(r.file('etc/ssh'), { recursive: true });
  const keys: Record<string, string> = {};
  for (const t of types) {
    const file = r.file(`etc/ssh/ssh_host_${t}_key`);
    execFileSync('ssh-keygen', ['-q', '-t', t, ...(t === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', `root@web1`, '-f', file]);
    keys[t] = readFileSync(`${file}.pub`, 'utf8').trim();
  }
  return keys;
}

function guest(): TempRoot {
  const r = makeTempRoot();
  r.write('etc/hostname', 'web1\n');
  r.write('etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\tweb1.example.com web1\n');
  return r;
}

function fastPlan(plan: PhoneHomePlan | undefined, over: Partial<PhoneHomePlan> = {}): PhoneHomePlan {
  expect(plan).toBeDefined();
  return { ...plan!, policy: { ...plan!.policy, baseDelayMs: 10, maxDelayMs: 20, requestTimeoutMs: 2000 }, budgetMs: 5000, ...over };
}

function ctxFor(host: Host, instance: InstanceData): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host, log: memoryLogger(), instance, stage: 'final', stateDir: '/var/lib/guestctx' };
}

const userData = (url: string, extra = ''): string => `${readFileSync(FIXTURE, 'utf8').replace('@URL@', url)}${extra}`;

describe('phone-home with a real server', () => {
  it('POSTs every field as a form to the URL with $INSTANCE_ID replaced', async () => {
    server = await startRecordingServer();
    root = guest();
    const keys = addHostKeys(root);
    const instance = instanceWith(userData(server.url));
    const plan = phoneHome.parse(await configFor(root, instance));
    expect(plan).toMatchObject({ post: ['pub_key_rsa', 'pub_key_ecdsa', 'pub_key_ed25519', 'instance_id', 'hostname', 'fqdn'], tries: 3 });
    const ctx = ctxFor(bootedGuest(root), instance);
    const out = await phoneHome.run(ctx, fastPlan(plan));
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/phone/i-0abc123/');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(req.body);
    expect([...form.keys()]).toEqual(['pub_key_rsa', 'pub_key_ecdsa', 'pub_key_ed25519', 'instance_id', 'hostname', 'fqdn']);
    expect(form.get('pub_key_rsa')).toBe(keys.rsa);
    expect(form.get('pub_key_ecdsa')).toBe(keys.ecdsa);
    expect(form.get('pub_key_ed25519')).toBe(keys.ed25519);
    expect(form.get('pub_key_ed25519')).toMatch(/^ssh-ed25519 AAAA\S+ root@web1$/);
    expect(form.get('instance_id')).toBe('i-0abc123');
    expect(form.get('hostname')).toBe('web1');
    expect(form.get('fqdn')).toBe('web1.example.com');
    expect(out).toEqual({ details: { url: `${server.url}/phone/i-0abc123/`, posted: plan!.post, status: 200 } });
  });

  it('only reads the guest: no file changes, no commands', async () => {
    server = await startRecordingServer();
    root = guest();
    addHostKeys(root, ['ed25519']);
    const instance = instanceWith(userData(server.url));
    const plan = fastPlan(phoneHome.parse(await configFor(root, instance)));
    const before = hashTree(root.dir);
    const host = bootedGuest(root);
    await phoneHome.run(ctxFor(host, instance), plan);
    expect(hashTree(root.dir)).toBe(before);
    expect(host.changes()).toEqual([]);
  });

  it('posts only the listed keys, in their order, and "N/A" for a key the guest lacks', async () => {
    server = await startRecordingServer();
    root = guest();
    addHostKeys(root, ['rsa']);
    const instance = instanceWith(`#cloud-config\nphone_home:\n  url: ${server.url}/p?id=\${INSTANCE_ID}\n  post: [instance_id, pub_key_ed25519, hostname]\n`, 'i-9');
    const ctx = ctxFor(bootedGuest(root), instance);
    const out = await phoneHome.run(ctx, fastPlan(phoneHome.parse(await configFor(root, instance))));
    const req = server.requests[0]!;
    expect(req.path).toBe('/p?id=i-9');
    expect(req.body).toBe('instance_id=i-9&pub_key_ed25519=N%2FA&hostname=web1');
    expect(ctx.log.lines.join('\n')).toMatch(/no value for pub_key_ed25519; posting "N\/A"/);
    expect(out).toMatchObject({ details: { missing: ['pub_key_ed25519'] } });
  });

  it('retries 5xx and refused connections, then succeeds', async () => {
    server = await startRecordingServer((_req, i): Answer => (i < 2 ? { status: 503 } : { status: 200 }));
    root = guest();
    const instance = instanceWith(userData(server.url));
    const ctx = ctxFor(bootedGuest(root), instance);
    await phoneHome.run(ctx, fastPlan(phoneHome.parse(await configFor(root, instance))));
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST']);
    expect(new Set(server.requests.map((r) => r.body)).size).toBe(1);
  });

  it('stops after `tries` attempts and fails the module', async () => {
    server = await startRecordingServer(() => ({ status: 500 }));
    root = guest();
    const instance = instanceWith(userData(server.url));
    const plan = phoneHome.parse(await configFor(root, instance));
    const err = await phoneHome.run(ctxFor(bootedGuest(root), instance), fastPlan(plan)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as Error).message).toMatch(/phoning home failed after up to 3 tries: .*HTTP 500/);
    expect(server.requests).toHaveLength(3);
  });

  it('a 404 is not retried: the URL is wrong', async () => {
    server = await startRecordingServer(() => ({ status: 404 }));
    root = guest();
    const instance = instanceWith(userData(server.url));
    const err = await phoneHome.run(ctxFor(bootedGuest(root), instance), fastPlan(phoneHome.parse(await configFor(root, instance)))).catch((e: unknown) => e);
    expect((err as ModuleError).describe()).toBe(`${server.url}/phone/i-0abc123/: answered HTTP 404; the phone-home data was not accepted`);
    expect(server.requests).toHaveLength(1);
  });

  it('a server that is gone fails within the budget', async () => {
    server = await startRecordingServer();
    const url = server.url;
    await server.close();
    server = undefined;
    root = guest();
    const instance = instanceWith(userData(url));
    const t0 = performance.now();
    const err = await phoneHome.run(ctxFor(bootedGuest(root), instance), fastPlan(phoneHome.parse(await configFor(root, instance)), { budgetMs: 500 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('is skipped offline: no request', async () => {
    server = await startRecordingServer();
    root = guest();
    const instance = instanceWith(userData(server.url));
    const out = await phoneHome.run(ctxFor(hostOn(root), instance), fastPlan(phoneHome.parse(await configFor(root, instance))));
    expect(out).toEqual({ skipped: expect.stringMatching(/needs the running guest/) });
    expect(server.requests).toHaveLength(0);
  });

  it('takes the names from the configuration when the guest has none yet', async () => {
    server = await startRecordingServer();
    root = makeTempRoot({ minimal: true });
    rmSync(root.file('etc'), { recursive: true, force: true });
    const instance = instanceWith(userData(server.url));
    await phoneHome.run(ctxFor(bootedGuest(root), instance), fastPlan(phoneHome.parse(await configFor(root, instance))));
    const form = new URLSearchParams(server.requests[0]!.body);
    expect([form.get('hostname'), form.get('fqdn'), form.get('pub_key_rsa')]).toEqual(['web1', 'web1.example.com', 'N/A']);
  });
});

describe('phone-home configuration', () => {
  it.each([
    ['phone_home: {url: "ftp://h/x"}', /^phone_home\.url: "ftp:\/\/h\/x" is not an http/],
    ['phone_home: {url: "not a url"}', /^phone_home\.url: "not a url" is not an http/],
  ])('%s is a ConfigError naming the key', async (yaml, message) => {
    root = makeTempRoot();
    const cfg = await configFor(root, instanceWith(`#cloud-config\n${yaml}\n`));
    let caught: unknown;
    try {
      phoneHome.parse(cfg);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).describe()).toMatch(message);
  });

  it('defaults to posting everything, 10 tries, within a bounded budget', async () => {
    root = makeTempRoot();
    const plan = phoneHome.parse(await configFor(root, instanceWith('#cloud-config\nphone_home: {url: "http://10.0.0.1/$INSTANCE_ID"}\n')));
    expect(plan).toMatchObject({ tries: 10, post: ['pub_key_rsa', 'pub_key_ecdsa', 'pub_key_ed25519', 'instance_id', 'hostname', 'fqdn'] });
    expect(plan!.policy.attempts).toBe(10);
    expect(plan!.budgetMs).toBeLessThanOrEqual(300_000);
  });

  it('nothing to do without phone_home', async () => {
    root = makeTempRoot();
    expect(phoneHome.parse(await configFor(root, instanceWith('#cloud-config\nhostname: x\n')))).toBeUndefined();
  });

  it.each([
    ['http://h/$INSTANCE_ID/', 'i-1', 'http://h/i-1/'],
    ['http://h/${INSTANCE_ID}x', 'i-1', 'http://h/i-1x'],
    ['http://h/?a=$INSTANCE_ID&b=$INSTANCE_ID', 'i 1/2', 'http://h/?a=i%201%2F2&b=i%201%2F2'],
    ['http://h/$INSTANCE_IDENT', 'i-1', 'http://h/$INSTANCE_IDENT'],
  ])('phoneHomeUrl(%j, %j) = %j', (template, id, url) => {
    expect(phoneHomeUrl(template, id)).toBe(url);
  });

  it('hides credentials in the URL it shows', () => {
    expect(displayUrl('http://user:pw@h:8080/x')).toBe('http://h:8080/x');
    expect(displayUrl('http://h/x')).toBe('http://h/x');
  });

  it('finds the fqdn in /etc/hosts', () => {
    const hosts = '# comment web1.bad.example\n127.0.0.1 localhost\n127.0.1.1 web1.example.com web1 # x\n';
    expect(fqdnFromHosts(hosts, 'web1')).toBe('web1.example.com');
    expect(fqdnFromHosts(hosts, 'db1')).toBeUndefined();
  });
});
