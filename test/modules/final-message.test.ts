// final-message against a temp guest root with a fake /proc/uptime: every
// substitution form, the jinja header, the default message, the console lines
// and the boot-finished marker, and what happens where /proc is empty.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { validateCloudConfigText } from '../../src/config/cloud-config';
import { memoryLogger } from '../../src/log/logger';
import type { InstanceData, ModuleContext } from '../../src/types';
import { DEFAULT_FINAL_MESSAGE, GUESTCTX_VERSION, finalMessage, renderFinalMessage, rfc2822, type FinalMessageVars } from '../../modules/final-message';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIXTURE = path.join(__dirname, '../fixtures/modules/final/final-message');
/** "Fri, 14 Aug 2015 00:02:57 +0000" */
const RFC2822 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/;

let root: TempRoot | undefined;
afterEach(() => {
  root?.cleanup();
  root = undefined;
});

const instance: InstanceData = { datasource: 'opennebula', source: '/dev/sr0', instanceId: '42', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

function ctxFor(r: TempRoot, opts: { dryRun?: boolean } = {}): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host: hostOn(r, opts), log: memoryLogger(), instance, stage: 'final', stateDir: '/var/lib/guestctx' };
}

function withUptime(r: TempRoot): void {
  mkdirSync(r.file('proc'), { recursive: true });
  copyFileSync(path.join(FIXTURE, 'proc/uptime'), r.file('proc/uptime'));
}

function cfgFrom(yaml: string): GuestConfig {
  const res = validateCloudConfigText(yaml, 'user-data');
  expect(res.errors).toEqual([]);
  return { ...emptyGuestConfig('42'), cloud: res.config };
}

describe('final-message module', () => {
  it('prints the fixture template with every substitution form, from the guest /proc/uptime', async () => {
    root = makeTempRoot();
    withUptime(root);
    const ctx = ctxFor(root);
    const plan = finalMessage.parse(cfgFrom(readFileSync(path.join(FIXTURE, 'cloud-config.yaml'), 'utf8')));
    expect(plan?.origin).toBe('cloud-config final_message');
    const before = Date.now();
    const out = await finalMessage.run(ctx, plan!);
    const lines = ctx.log.lines.map((l) => l.replace(/^[^:]+: /, ''));
    expect(lines[0]).toBe(`web1 is up after 1234.56 seconds (${GUESTCTX_VERSION}, opennebula [/dev/sr0])`);
    const m = /^finished at (.*); cost \$0; \$UNKNOWN stays$/.exec(lines[1] ?? '');
    expect(m).not.toBeNull();
    expect(m![1]).toMatch(RFC2822);
    // The timestamp is "now", to the second.
    expect(Math.abs(Date.parse(m![1]!) - before)).toBeLessThan(5000);
    expect(lines).toHaveLength(2);
    expect(out).toEqual({ details: { uptime: '1234.56', bootFinished: '/var/lib/guestctx/instance/boot-finished', origin: 'cloud-config final_message' } });
  });

  it('writes boot-finished with uptime, timestamp and version, mode 0644', async () => {
    root = makeTempRoot();
    withUptime(root);
    await finalMessage.run(ctxFor(root), finalMessage.parse(emptyGuestConfig('42'))!);
    const text = root.read('var/lib/guestctx/instance/boot-finished');
    const m = /^1234\.56 - (.*) - v\. (.*)\n$/.exec(text);
    expect(m).not.toBeNull();
    expect(m![1]).toMatch(RFC2822);
    expect(m![2]).toBe(GUESTCTX_VERSION);
    expect(root.mode('var/lib/guestctx/instance/boot-finished')).toBe(0o644);
  });

  it('without final_message prints the default message', async () => {
    root = makeTempRoot();
    withUptime(root);
    const ctx = ctxFor(root);
    const plan = finalMessage.parse(emptyGuestConfig('42'));
    expect(plan).toEqual({ template: DEFAULT_FINAL_MESSAGE, origin: 'default' });
    await finalMessage.run(ctx, plan!);
    expect(ctx.log.lines).toHaveLength(1);
    expect(ctx.log.lines[0]).toMatch(new RegExp(`^guestctx: guestctx v\\. ${GUESTCTX_VERSION.replace(/\./g, '\\.')} finished at .*\\+0000\\. Datasource opennebula \\[/dev/sr0\\]\\. Up 1234\\.56 seconds$`));
  });

  it('says "unknown" uptime where the guest has no /proc/uptime (an offline image)', async () => {
    root = makeTempRoot();
    const ctx = ctxFor(root);
    const out = await finalMessage.run(ctx, { template: 'up $UPTIME', origin: 'test' });
    expect(ctx.log.lines).toEqual(['guestctx: up unknown']);
    expect(out).toMatchObject({ details: { uptime: 'unknown' } });
    expect(root.read('var/lib/guestctx/instance/boot-finished')).toMatch(/^unknown - /);
  });

  it('in --dry-run prints the message but writes nothing', async () => {
    root = makeTempRoot();
    withUptime(root);
    const ctx = ctxFor(root, { dryRun: true });
    await finalMessage.run(ctx, finalMessage.parse(emptyGuestConfig('42'))!);
    expect(ctx.log.lines).toHaveLength(1);
    expect(existsSync(root.file('var/lib/guestctx/instance/boot-finished'))).toBe(false);
    expect(ctx.host.changes().map((c) => (c.kind === 'write' ? c.path : c.kind))).toContain('/var/lib/guestctx/instance/boot-finished');
  });
});

describe('renderFinalMessage', () => {
  const vars: FinalMessageVars = { uptime: '12.34', timestamp: 'Fri, 14 Aug 2015 00:02:57 +0000', datasource: 'nocloud [/dev/vdb]', version: '1.2.3' };
  it.each([
    ['Up $UPTIME s', 'Up 12.34 s'],
    ['Up ${UPTIME}s', 'Up 12.34s'],
    ['up $uptime / ${timestamp}', 'up 12.34 / Fri, 14 Aug 2015 00:02:57 +0000'],
    ['$DATASOURCE $VERSION', 'nocloud [/dev/vdb] 1.2.3'],
    // Mixed case is not one of the offered names; unknown names stay as written.
    ['$Uptime $HOSTNAME ${NOPE}', '$Uptime $HOSTNAME ${NOPE}'],
    // A dot ends the name ("$UPTIME." is the uptime and a full stop).
    ['Up $UPTIME.', 'Up 12.34.'],
    ['costs \\$5, up $UPTIME', 'costs $5, up 12.34'],
    ['$$UPTIME', '$12.34'],
    ['## template: jinja\nv{{version}} up {{ uptime }} s, $UPTIME {{ other }}', 'v1.2.3 up 12.34 s, $UPTIME {{ other }}'],
    ['## template: jinja\n{{ UPTIME }}', '12.34'],
    ['no variables', 'no variables'],
  ])('%j -> %j', (template, expected) => {
    expect(renderFinalMessage(template, vars)).toBe(expected);
  });

  it('never expands a substituted value again', () => {
    expect(renderFinalMessage('$DATASOURCE', { ...vars, datasource: 'odd $UPTIME' })).toBe('odd $UPTIME');
  });

  it('formats RFC 2822 timestamps in UTC', () => {
    expect(rfc2822(new Date(Date.UTC(2015, 7, 14, 0, 2, 57)))).toBe('Fri, 14 Aug 2015 00:02:57 +0000');
  });
});
