// timezone and locale against temp roots: the zone is checked against the
// guest's own zoneinfo and /etc/localtime really linked with the guest's ln,
// chrooted; the live path through timedatectl (recorded); locale.gen edits and
// the locale-gen decision (recorded), and repeat runs that change nothing.
import { cpSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudConfig } from '../../src/config/cloud-config';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { describeError } from '../../src/errors';
import type { CommandResult, Host } from '../../src/host/host';
import { memoryLogger } from '../../src/log/logger';
import type { InstanceData, ModuleContext } from '../../src/types';
import { enableInLocaleGen, locale, normaliseLocale, setLang, timezone } from '../../modules/timezone-locale';
import { addShell } from '../helpers/chroot';
import { addTools } from '../helpers/add-tools';
import { hashTree, hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());

const instance: InstanceData = { datasource: 'test', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

function ctxFor(host: Host) {
  const log = memoryLogger();
  const ctx: ModuleContext = { host, log, instance, stage: 'network', stateDir: '/var/lib/guestctx' };
  return { ctx, log };
}

function cfg(cloud: CloudConfig, context?: Record<string, string>): GuestConfig {
  return { ...emptyGuestConfig('i-1'), cloud, ...(context ? { context: new Map(Object.entries(context)) } : {}) };
}

/** A Debian-like guest with a few real zone files (one a backward link), UTC as the current zone, and ln. */
function tzRoot(opts: { ln?: boolean } = {}): TempRoot {
  const r = makeTempRoot();
  r.write('etc/debian_version', '12.8\n');
  const zi = r.file('usr/share/zoneinfo');
  for (const z of ['Europe/Prague', 'America/New_York', 'Etc/UTC']) {
    mkdirSync(path.dirname(path.join(zi, z)), { recursive: true });
    cpSync(path.join('/usr/share/zoneinfo', z), path.join(zi, z));
  }
  mkdirSync(path.join(zi, 'US'), { recursive: true });
  symlinkSync('../America/New_York', path.join(zi, 'US/Eastern'));
  symlinkSync('/usr/share/zoneinfo/Etc/UTC', r.file('etc/localtime'));
  r.write('etc/timezone', 'Etc/UTC\n');
  if (opts.ln !== false) {
    addShell(r.dir);
    expect(addTools(r.dir, ['/usr/bin/ln'])).toEqual([]);
  }
  return r;
}

describe('timezone', () => {
  it('links /etc/localtime to the zone with the guest ln (chrooted) and writes /etc/timezone', async () => {
    root = tzRoot();
    const out = await timezone.run(ctxFor(hostOn(root)).ctx, timezone.parse(cfg({ timezone: 'Europe/Prague' }))!);
    expect(lstatSync(root.file('etc/localtime')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(root.file('etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Prague');
    expect(root.read('etc/timezone')).toBe('Europe/Prague\n');
    expect(out && 'details' in out ? out.details : undefined).toEqual({ zone: 'Europe/Prague', method: 'symlink' });
    // The zone file itself was not touched through the old link.
    expect(readFileSync(root.file('usr/share/zoneinfo/Etc/UTC')).equals(readFileSync('/usr/share/zoneinfo/Etc/UTC'))).toBe(true);
  });

  it('runs on every boot and changes nothing when the zone is already set', async () => {
    root = tzRoot();
    const plan = timezone.parse(cfg({}, { TIMEZONE: 'US/Eastern' }))!;
    await timezone.run(ctxFor(hostOn(root)).ctx, plan);
    expect(readlinkSync(root.file('etc/localtime'))).toBe('/usr/share/zoneinfo/US/Eastern');
    const before = hashTree(root.dir);
    const host = hostOn(root);
    const out = await timezone.run(ctxFor(host).ctx, plan);
    expect(out && 'skipped' in out ? out.skipped : undefined).toMatch(/already US\/Eastern/);
    expect(hashTree(root.dir)).toBe(before);
    expect(host.changes()).toEqual([]);
  });

  it('the context TIMEZONE wins over cloud-config timezone', () => {
    expect(timezone.parse(cfg({ timezone: 'Etc/UTC' }, { TIMEZONE: 'Europe/Prague' }))).toEqual({ zone: 'Europe/Prague', origin: 'context TIMEZONE' });
    expect(timezone.parse(cfg({ timezone: 'Etc/UTC' }, { TIMEZONE: '' }))).toEqual({ zone: 'Etc/UTC', origin: 'cloud-config timezone' });
    expect(timezone.parse(cfg({}))).toBeUndefined();
  });

  it.each(['../../etc/shadow', '/etc/passwd', 'Europe/Prague; rm -rf /', 'Europe//Prague'])('refuses the name %j', (name) => {
    expect(() => timezone.parse(cfg({}, { TIMEZONE: name }))).toThrow(/is not a time zone name/);
  });

  it('an unknown zone is an error naming the input, and nothing changes', async () => {
    root = tzRoot();
    const before = hashTree(root.dir);
    await expect(timezone.run(ctxFor(hostOn(root)).ctx, timezone.parse(cfg({}, { TIMEZONE: 'Mars/Olympus_Mons' }))!)).rejects.toThrow(/unknown time zone Mars\/Olympus_Mons: \/usr\/share\/zoneinfo\/Mars\/Olympus_Mons does not exist in the guest/);
    expect(hashTree(root.dir)).toBe(before);
  });

  it('without ln in the guest: a clear error naming the tool', async () => {
    root = tzRoot({ ln: false });
    await expect(timezone.run(ctxFor(hostOn(root)).ctx, timezone.parse(cfg({ timezone: 'Europe/Prague' }))!)).rejects.toThrow(/tool ln is not installed in the guest/);
  });

  it('live: uses timedatectl, and falls back to the link when timedated does not answer', async () => {
    for (const [answer, method] of [[0, 'timedatectl'], [1, 'symlink']] as const) {
      root = tzRoot({ ln: false });
      root.write('usr/bin/timedatectl', '#!/bin/sh\n', 0o755);
      root.write('usr/bin/ln', '#!/bin/sh\n', 0o755);
      const rec = recorder((argv): CommandResult | undefined => (argv.includes('timedatectl') || argv.includes('/usr/bin/timedatectl') ? { code: answer, stdout: '', stderr: answer ? 'Failed to connect to bus' : '' } : undefined));
      // The live flag is what chooses timedatectl; the recorder keeps this machine's clock alone.
      const host = Object.assign(Object.create(hostOn(root, { executor: rec.executor })) as Host, { live: true });
      const out = await timezone.run(ctxFor(host).ctx, timezone.parse(cfg({ timezone: 'America/New_York' }))!);
      expect(rec.calls[0]?.slice(-3)).toEqual(['/usr/bin/timedatectl', 'set-timezone', 'America/New_York']);
      expect(out && 'details' in out ? out.details : undefined).toEqual({ zone: 'America/New_York', method });
      if (method === 'symlink') expect(rec.calls[1]?.slice(-3)).toEqual(['-sf', '/usr/share/zoneinfo/America/New_York', '/etc/localtime']);
      expect(root.read('etc/timezone')).toBe('America/New_York\n');
      root.cleanup();
    }
  });

  it('a dry run changes nothing and records ln', async () => {
    root = tzRoot();
    const before = hashTree(root.dir);
    const host = hostOn(root, { dryRun: true });
    await timezone.run(ctxFor(host).ctx, timezone.parse(cfg({ timezone: 'Europe/Prague' }))!);
    expect(hashTree(root.dir)).toBe(before);
    expect(host.changes().find((c) => c.kind === 'command')).toMatchObject({ argv: ['/usr/bin/ln', '-sf', '/usr/share/zoneinfo/Europe/Prague', '/etc/localtime'], ran: false });
  });
});

const LOCALE_GEN = `# This file lists locales that you wish to have built.
# de_DE.UTF-8 UTF-8
# en_US.UTF-8 UTF-8
C.UTF-8 UTF-8
`;
const SUPPORTED = 'de_DE.UTF-8 UTF-8\nen_US.UTF-8 UTF-8\nen_US ISO-8859-1\nfr_FR.UTF-8 UTF-8\n';

function localeRoot(): TempRoot {
  const r = makeTempRoot();
  r.write('etc/locale.gen', LOCALE_GEN);
  r.write('usr/share/i18n/SUPPORTED', SUPPORTED);
  r.write('usr/sbin/locale-gen', '#!/bin/sh\n', 0o755);
  r.write('usr/bin/localedef', '#!/bin/sh\n', 0o755);
  r.write('etc/default/locale', 'LANG=C.UTF-8\nLANGUAGE=en\n');
  return r;
}

/** localedef --list-archive answers with `archive`; locale-gen answers `genCode`. */
function localeRecorder(archive: string[], genCode = 0) {
  return recorder((argv) => {
    if (argv.includes('--list-archive')) return { code: 0, stdout: archive.map((a) => `${a}\n`).join(''), stderr: '' };
    if (argv.includes('/usr/sbin/locale-gen')) return { code: genCode, stdout: '', stderr: genCode ? 'Generating locales...\nlocaledef: cannot write' : '' };
    return undefined;
  });
}

describe('locale', () => {
  it('enables the locale in locale.gen, runs locale-gen and sets LANG, keeping other lines', async () => {
    root = localeRoot();
    const rec = localeRecorder(['C.utf8']);
    const out = await locale.run(ctxFor(hostOn(root, { executor: rec.executor })).ctx, locale.parse(cfg({ locale: 'de_DE.UTF-8' }))!);
    expect(root.read('etc/locale.gen')).toBe(LOCALE_GEN.replace('# de_DE.UTF-8 UTF-8', 'de_DE.UTF-8 UTF-8'));
    expect(rec.calls.map((c) => c.slice(5))).toEqual([['/usr/sbin/locale-gen']]);
    expect(root.read('etc/default/locale')).toBe('LANG=de_DE.UTF-8\nLANGUAGE=en\n');
    expect(out && 'details' in out ? out.details : undefined).toMatchObject({ generated: true });
  });

  it('adds a locale missing from locale.gen with its charset from SUPPORTED', async () => {
    root = localeRoot();
    await locale.run(ctxFor(hostOn(root, { executor: localeRecorder([]).executor })).ctx, locale.parse(cfg({ locale: 'fr_FR.utf8' }))!);
    expect(root.read('etc/locale.gen').trimEnd().split('\n').at(-1)).toBe('fr_FR.UTF-8 UTF-8');
    expect(root.read('etc/default/locale')).toMatch(/^LANG=fr_FR\.utf8$/m);
  });

  it('does not regenerate a locale that is enabled and built; a second run changes nothing', async () => {
    root = localeRoot();
    root.write('etc/locale.gen', LOCALE_GEN.replace('# en_US.UTF-8', 'en_US.UTF-8'));
    const rec = localeRecorder(['C.utf8', 'en_US.utf8']);
    await locale.run(ctxFor(hostOn(root, { executor: rec.executor })).ctx, locale.parse(cfg({ locale: 'en_US.UTF-8' }))!);
    expect(rec.calls.map((c) => c.slice(5))).toEqual([['/usr/bin/localedef', '--list-archive']]);
    const before = hashTree(root.dir);
    await locale.run(ctxFor(hostOn(root, { executor: rec.executor })).ctx, locale.parse(cfg({ locale: 'en_US.UTF-8' }))!);
    expect(hashTree(root.dir)).toBe(before);
  });

  it('C.UTF-8 needs no generation; a guest without locale.gen only gets the file', async () => {
    root = localeRoot();
    const rec = localeRecorder([]);
    await locale.run(ctxFor(hostOn(root, { executor: rec.executor })).ctx, locale.parse(cfg({ locale: 'C.UTF-8' }))!);
    expect(rec.calls).toEqual([]);
    rmSync(root.file('etc/locale.gen'));
    await locale.run(ctxFor(hostOn(root, { executor: rec.executor })).ctx, locale.parse(cfg({ locale: 'de_DE.UTF-8', locale_configfile: '/etc/locale.conf' }))!);
    expect(rec.calls).toEqual([]);
    expect(root.read('etc/locale.conf')).toBe('LANG=de_DE.UTF-8\n');
  });

  it('an unsupported locale, a missing locale-gen and a failing locale-gen are clear errors', async () => {
    root = localeRoot();
    await expect(locale.run(ctxFor(hostOn(root, { executor: localeRecorder([]).executor })).ctx, locale.parse(cfg({ locale: 'xx_YY.UTF-8' }))!)).rejects.toThrow(/locale xx_YY\.UTF-8 is not supported by the guest/);
    const failed = await locale.run(ctxFor(hostOn(root, { executor: localeRecorder([], 1).executor })).ctx, locale.parse(cfg({ locale: 'de_DE.UTF-8' }))!).catch((e: unknown) => e);
    expect(describeError(failed)).toMatch(/^locale-gen: exited with status 1 \(localedef: cannot write\); \/etc\/default\/locale left unchanged/);
    expect(root.read('etc/default/locale')).toBe('LANG=C.UTF-8\nLANGUAGE=en\n');
    rmSync(root.file('usr/sbin/locale-gen'));
    await expect(locale.run(ctxFor(hostOn(root, { executor: localeRecorder([]).executor })).ctx, locale.parse(cfg({ locale: 'de_DE.UTF-8' }))!)).rejects.toThrow(/tool locale-gen is not installed in the guest \(package locales\)/);
  });

  it('parse: false or absent means nothing to do; a bad name or config file is refused', () => {
    expect(locale.parse(cfg({}))).toBeUndefined();
    expect(locale.parse(cfg({ locale: false }))).toBeUndefined();
    expect(() => locale.parse(cfg({ locale: 'en US' }))).toThrow(/is not a locale name/);
    let err: unknown;
    try {
      locale.parse(cfg({ locale: 'en_US.UTF-8', locale_configfile: '/etc/../../x' }));
    } catch (e) {
      err = e;
    }
    expect(describeError(err)).toMatch(/^cloud-config locale_configfile: "\/etc\/\.\.\/\.\.\/x" must be an absolute path without "\.\."/);
  });
});

describe('locale helpers', () => {
  it.each([
    ['en_US.UTF-8', 'en_US.utf8'],
    ['de_DE@euro', 'de_DE@euro'],
    ['sr_RS.UTF-8@latin', 'sr_RS.utf8@latin'],
    ['C', 'C'],
  ])('normalises %s to %s', (a, b) => expect(normaliseLocale(a)).toBe(b));

  it('setLang replaces an export LANG line and appends when absent', () => {
    expect(setLang('export LANG=C\nLC_ALL=C\n', 'de_DE.UTF-8')).toBe('LANG=de_DE.UTF-8\nLC_ALL=C\n');
    expect(setLang('', 'C.UTF-8')).toBe('LANG=C.UTF-8\n');
  });

  it('enableInLocaleGen returns undefined when already enabled', () => {
    expect(enableInLocaleGen('en_US.UTF-8 UTF-8\n', 'en_US.utf8', undefined)).toBeUndefined();
  });
});
