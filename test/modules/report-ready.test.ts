// report-ready against a real OneGate server on 127.0.0.1 and a real context
// CD (an ISO9660 image built by xorriso, read by the user-space reader, decoded
// by the OpenNebula datasource): method, path, headers and body of the PUT,
// retries after 500s, the token never in logs nor status details, the
// READY_SCRIPT health check run chrooted in the guest gating the report, and
// the clear errors for a missing endpoint, VM id or token.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { contextInstanceData } from '../../datasources/opennebula';
import { buildGuestConfig } from '../../src/config/build';
import { ConfigError, ModuleError } from '../../src/errors';
import type { Host } from '../../src/host/host';
import { memoryLogger } from '../../src/log/logger';
import { openIso9660 } from '../../src/media/iso9660';
import type { InstanceData, ModuleContext } from '../../src/types';
import { decodeReadyScript, reportReady, type ReportReadyPlan } from '../../modules/report-ready';
import { addShell } from '../helpers/chroot';
import { buildIso, fileSource, type FileSource } from '../helpers/iso-images';
import { startOneGate, type OneGateServer } from '../helpers/onegate-server';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIXTURE = path.join(__dirname, '../fixtures/modules/final/report-ready/context-cd');
const TOKEN = readFileSync(path.join(FIXTURE, 'token.txt'), 'utf8').trim();

let root: TempRoot | undefined;
let server: OneGateServer | undefined;
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  root?.cleanup();
  root = undefined;
  await server?.close();
  server = undefined;
  for (const c of cleanups.splice(0)) await c();
});

/**
 * The temp root standing for the booted guest (host.live), which is what the
 * module requires; its commands still run chrooted into the temp root, never
 * against this machine.
 */
function bootedGuest(r: TempRoot): Host {
  return Object.create(hostOn(r), { live: { value: true } }) as Host;
}

/**
 * A real CONTEXT ISO from the fixture tree, its endpoint pointed at `endpoint`,
 * extra variables appended, token.txt left out on request; decoded into
 * InstanceData by the OpenNebula datasource's own code.
 */
async function contextCd(endpoint: string, opts: { extra?: Record<string, string>; withoutToken?: boolean; drop?: string[] } = {}): Promise<InstanceData> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-ctxcd-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const tree = path.join(dir, 'tree');
  cpSync(FIXTURE, tree, { recursive: true });
  if (opts.withoutToken) rmSync(path.join(tree, 'token.txt'));
  let text = readFileSync(path.join(tree, 'context.sh'), 'utf8').replace('@ONEGATE_ENDPOINT@', endpoint);
  for (const key of opts.drop ?? []) text = text.replace(new RegExp(`^${key}=.*\\n`, 'm'), '');
  for (const [k, v] of Object.entries(opts.extra ?? {})) text += `${k}='${v.replace(/'/g, `'\\''`)}'\n`;
  writeFileSync(path.join(tree, 'context.sh'), text);
  const iso = buildIso(tree, { label: 'CONTEXT', tool: 'xorriso', rockRidge: true, out: path.join(dir, 'context.iso') });
  const src: FileSource = fileSource(iso);
  cleanups.push(() => src.close());
  const volume = await openIso9660(src);
  return contextInstanceData('opennebula', iso, Buffer.from(text), volume);
}

/** The module's plan with short delays, so retries take milliseconds. */
function fastPlan(instance: InstanceData, over: Partial<ReportReadyPlan> = {}): ReportReadyPlan {
  const plan = reportReady.parse(buildGuestConfig(instance, {}));
  expect(plan).toBeDefined();
  return { ...plan!, policy: { ...plan!.policy, baseDelayMs: 20, maxDelayMs: 40, requestTimeoutMs: 2000 }, budgetMs: 5000, scriptRetryDelayMs: 10, ...over };
}

function ctxFor(host: Host, instance: InstanceData): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host, log: memoryLogger(), instance, stage: 'final', stateDir: '/var/lib/guestctx' };
}

/** Everything the module let out: console lines, events, and status details. */
function transcript(ctx: { log: ReturnType<typeof memoryLogger> }, outcome: unknown): string {
  return [...ctx.log.lines, ...ctx.log.events.map((e) => JSON.stringify(e)), JSON.stringify(outcome ?? null)].join('\n');
}

describe('report-ready with a real OneGate', () => {
  it('PUTs READY=YES to $ONEGATE_ENDPOINT/vm with the token from token.txt and the VM id', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42' });
    root = makeTempRoot();
    const instance = await contextCd(server.url);
    const ctx = ctxFor(bootedGuest(root), instance);
    const out = await reportReady.run(ctx, fastPlan(instance));
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe('PUT');
    expect(req.path).toBe('/vm');
    expect(req.headers['x-onegate-token']).toBe(TOKEN);
    expect(req.headers['x-onegate-vmid']).toBe('42');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req.body).toBe('READY=YES');
    expect(server.userTemplate.get('READY')).toBe('YES');
    expect(out).toEqual({ details: { endpoint: server.url, vmid: '42', tokenSource: 'token.txt', status: 200 } });
    expect(ctx.log.lines.join('\n')).toMatch(/reported READY=YES .*\/vm for VM 42/);
    expect(transcript(ctx, out)).not.toContain(TOKEN);
  });

  it('retries after 500s with backoff, and the token shows nowhere even in retry lines', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42', failFirst: 3 });
    root = makeTempRoot();
    const instance = await contextCd(server.url);
    const ctx = ctxFor(bootedGuest(root), instance);
    const out = await reportReady.run(ctx, fastPlan(instance));
    expect(server.requests.map((r) => r.method)).toEqual(['PUT', 'PUT', 'PUT', 'PUT']);
    expect(server.userTemplate.get('READY')).toBe('YES');
    expect(ctx.log.lines.filter((l) => /HTTP 500; retry/.test(l))).toHaveLength(3);
    expect(transcript(ctx, out)).not.toContain(TOKEN);
  });

  it('gives up within its budget when OneGate keeps failing, without the token in the error', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42', failFirst: 1000 });
    root = makeTempRoot();
    const instance = await contextCd(server.url);
    const ctx = ctxFor(bootedGuest(root), instance);
    const t0 = performance.now();
    const err = await reportReady.run(ctx, fastPlan(instance, { budgetMs: 600 })).catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(err).toBeInstanceOf(ModuleError);
    expect(String((err as Error).message)).toMatch(/READY was not reported: .*HTTP 500/);
    expect(String((err as Error).message)).not.toContain(TOKEN);
    expect(server.requests.length).toBeGreaterThan(1);
    expect(transcript(ctx, undefined)).not.toContain(TOKEN);
  });

  it('a refused token (401) fails at once, naming the token source but not the token', async () => {
    server = await startOneGate({ token: 'another-token-entirely', vmid: '42' });
    root = makeTempRoot();
    const instance = await contextCd(server.url);
    const ctx = ctxFor(bootedGuest(root), instance);
    const err = await reportReady.run(ctx, fastPlan(instance)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as Error).message).toMatch(/HTTP 401 \(OneGate refused the token from token\.txt for VM 42\)/);
    expect((err as Error).message).not.toContain(TOKEN);
    expect(server.requests).toHaveLength(1);
  });

  it('uses ONEGATE_TOKEN when the context CD has no token.txt', async () => {
    const contextToken = 'b25lZ2F0ZS1jb250ZXh0LXRva2Vu';
    server = await startOneGate({ token: contextToken, vmid: '42' });
    root = makeTempRoot();
    const instance = await contextCd(server.url, { withoutToken: true, extra: { ONEGATE_TOKEN: contextToken } });
    const ctx = ctxFor(bootedGuest(root), instance);
    const out = await reportReady.run(ctx, fastPlan(instance));
    expect(server.requests[0]?.headers['x-onegate-token']).toBe(contextToken);
    expect(out && 'details' in out ? out.details?.tokenSource : undefined).toBe('ONEGATE_TOKEN');
    expect(transcript(ctx, out)).not.toContain(contextToken);
  });

  it('is skipped offline (--root): no request, no marker-worthy success', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42' });
    root = makeTempRoot();
    const instance = await contextCd(server.url);
    const out = await reportReady.run(ctxFor(hostOn(root), instance), fastPlan(instance));
    expect(out).toEqual({ skipped: expect.stringMatching(/needs the running guest/) });
    expect(server.requests).toHaveLength(0);
  });
});

describe('READY_SCRIPT and READY_SCRIPT_PATH', () => {
  it('a failing READY_SCRIPT means no report, after the configured number of runs', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42' });
    root = makeTempRoot();
    addShell(root.dir);
    const instance = await contextCd(server.url, { extra: { READY_SCRIPT: 'echo run >> /var/tmp/ready-runs; echo "not yet"; exit 3' } });
    const ctx = ctxFor(bootedGuest(root), instance);
    const err = await reportReady.run(ctx, fastPlan(instance, { scriptAttempts: 2 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as Error).message).toMatch(/exited with status 3 \(2 runs\); READY was not reported/);
    expect(root.read('var/tmp/ready-runs')).toBe('run\nrun\n');
    expect(ctx.log.lines.join('\n')).toMatch(/ready script: not yet/);
    expect(server.requests).toHaveLength(0);
    expect(server.userTemplate.has('READY')).toBe(false);
  });

  it('a base64 READY_SCRIPT is decoded, run chrooted with the context in its environment, and then READY is sent', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42' });
    root = makeTempRoot();
    addShell(root.dir);
    const script = 'echo "vm $VMID ready" > /var/tmp/ready-ran\n';
    const instance = await contextCd(server.url, { extra: { READY_SCRIPT: Buffer.from(script).toString('base64') } });
    const ctx = ctxFor(bootedGuest(root), instance);
    const out = await reportReady.run(ctx, fastPlan(instance));
    expect(root.read('var/tmp/ready-ran')).toBe('vm 42 ready\n');
    expect(root.read('var/lib/guestctx/instance/scripts/ready-script')).toBe(script);
    expect(root.mode('var/lib/guestctx/instance/scripts/ready-script')).toBe(0o700);
    expect(server.userTemplate.get('READY')).toBe('YES');
    expect(out && 'details' in out ? out.details : undefined).toMatchObject({ readyScript: 'context.sh READY_SCRIPT (base64)', scriptRuns: 1 });
  });

  it('a second boot reports again and changes no file in the guest', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42' });
    root = makeTempRoot();
    addShell(root.dir);
    const instance = await contextCd(server.url, { extra: { READY_SCRIPT: 'exit 0' } });
    await reportReady.run(ctxFor(bootedGuest(root), instance), fastPlan(instance));
    const before = hashTree(root.dir);
    const host = bootedGuest(root);
    await reportReady.run(ctxFor(host, instance), fastPlan(instance));
    expect(hashTree(root.dir)).toBe(before);
    expect(host.changes().filter((c) => c.kind !== 'command')).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });

  it('READY_SCRIPT_PATH wins over READY_SCRIPT and gates the report on its exit status', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42' });
    root = makeTempRoot();
    addShell(root.dir);
    root.write('opt/app/health.sh', '#!/bin/sh\ntest -f /run/app-up\n', 0o755);
    const instance = await contextCd(server.url, { extra: { READY_SCRIPT_PATH: '/opt/app/health.sh', READY_SCRIPT: 'exit 0' } });
    const ctx = ctxFor(bootedGuest(root), instance);
    const err = await reportReady.run(ctx, fastPlan(instance, { scriptAttempts: 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as ModuleError).describe()).toBe('context.sh READY_SCRIPT_PATH /opt/app/health.sh: exited with status 1 (1 run); READY was not reported');
    expect(server.requests).toHaveLength(0);
    root.write('run/app-up', '');
    const out = await reportReady.run(ctx, fastPlan(instance, { scriptAttempts: 1 }));
    expect(server.requests).toHaveLength(1);
    expect(out && 'details' in out ? out.details?.readyScript : undefined).toBe('context.sh READY_SCRIPT_PATH /opt/app/health.sh');
  });

  it('a READY_SCRIPT_PATH that does not exist is a clear error and no report', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42' });
    root = makeTempRoot();
    const instance = await contextCd(server.url, { extra: { READY_SCRIPT_PATH: '/opt/missing.sh' } });
    const err = await reportReady.run(ctxFor(bootedGuest(root), instance), fastPlan(instance)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).describe()).toMatch(/^READY_SCRIPT_PATH: \/opt\/missing\.sh does not exist in the guest/);
    expect(server.requests).toHaveLength(0);
  });

  it.each([
    ['true', 'true', false],
    ['date', 'date', false],
    ['exit 0', 'exit 0', false],
    [Buffer.from('systemctl is-active nginx').toString('base64'), 'systemctl is-active nginx', true],
    [Buffer.from('curl -fs http://localhost/\n').toString('base64'), 'curl -fs http://localhost/\n', true],
    // Valid base64 whose bytes are not text: taken as the command it is.
    ['AAECAwQF', 'AAECAwQF', false],
  ])('decodeReadyScript(%j) -> %j (base64: %s)', (input, text, base64) => {
    expect(decodeReadyScript(input)).toEqual({ text, base64 });
  });
});

describe('report-ready configuration', () => {
  const vars = (extra: Record<string, string>): InstanceData => ({
    datasource: 'opennebula',
    source: 'test',
    instanceId: '42',
    instanceIdRule: 'test',
    publicKeys: [],
    raw: {},
    secretKeys: [],
    problems: [],
    context: new Map(Object.entries(extra)),
  });
  const parse = (extra: Record<string, string>): ReportReadyPlan | undefined => reportReady.parse(buildGuestConfig(vars(extra), {}));

  it.each<[Record<string, string>, string]>([
    [{}, 'no REPORT_READY'],
    [{ REPORT_READY: 'NO', ONEGATE_ENDPOINT: 'http://h:5030', VMID: '1' }, 'REPORT_READY=NO'],
  ])('nothing to do with %j (%s)', (extra) => {
    expect(parse(extra)).toBeUndefined();
  });

  it.each([
    [{ REPORT_READY: 'YES', VMID: '1' }, /^ONEGATE_ENDPOINT: is not set, but REPORT_READY=YES needs the OneGate URL/],
    [{ REPORT_READY: 'YES', ONEGATE_ENDPOINT: 'ftp://h/', VMID: '1' }, /^ONEGATE_ENDPOINT: "ftp:\/\/h\/" is not an http/],
    [{ REPORT_READY: 'YES', ONEGATE_ENDPOINT: 'http://h:5030' }, /^VMID: is not set/],
    [{ REPORT_READY: 'yes', ONEGATE_ENDPOINT: 'http://h:5030', VMID: 'x1' }, /^VMID: "x1" is not a number/],
    [{ REPORT_READY: 'YES', ONEGATE_ENDPOINT: 'http://h:5030', VMID: '1', READY_SCRIPT_PATH: 'health.sh' }, /^READY_SCRIPT_PATH: "health\.sh" is not an absolute path/],
  ])('%j is a ConfigError naming the variable', (extra, message) => {
    let caught: unknown;
    try {
      parse(extra);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).describe()).toMatch(message);
  });

  it('strips a trailing slash from the endpoint', () => {
    expect(parse({ REPORT_READY: 'YES', ONEGATE_ENDPOINT: 'http://10.0.0.1:5030/', VMID: '7' })?.endpoint).toBe('http://10.0.0.1:5030');
  });

  it('without token.txt or ONEGATE_TOKEN the run fails naming both, before any request', async () => {
    server = await startOneGate({ token: TOKEN, vmid: '42' });
    root = makeTempRoot();
    const instance = await contextCd(server.url, { withoutToken: true });
    const err = await reportReady.run(ctxFor(bootedGuest(root), instance), fastPlan(instance)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).describe()).toMatch(/^ONEGATE_TOKEN: .*token\.txt is not on the context medium and ONEGATE_TOKEN is not set/);
    expect(server.requests).toHaveLength(0);
  });
});
