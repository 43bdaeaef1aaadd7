// timezone and locale.
// timezone (cloud-config `timezone`, OpenNebula TIMEZONE): checked against the
// guest's own /usr/share/zoneinfo, then set with timedatectl on the running
// system, or by pointing /etc/localtime at the zone file (and writing
// /etc/timezone on Debian-like guests). It runs on every boot, as one-context
// applies TIMEZONE on every boot: the context may change between boots, and
// the module changes nothing when the zone is already set.
// locale (cloud-config `locale`, `locale_configfile`): LANG in
// /etc/default/locale, and the locale generated with locale-gen when the
// guest uses /etc/locale.gen. Once per instance, as in cloud-init: generating
// a locale takes seconds and the user may change it afterwards.
import { ConfigError } from '../src/errors';
import type { Host } from '../src/host/host';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export const ZONEINFO = '/usr/share/zoneinfo';
const LOCALTIME = '/etc/localtime';
const ETC_TIMEZONE = '/etc/timezone';

export interface TimezonePlan {
  readonly zone: string;
  /** "context TIMEZONE" or "cloud-config timezone". */
  readonly origin: string;
}

// Zone names are paths below zoneinfo: words of letters, digits, "_", "+", "-".
const ZONE_NAME = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/;

export function planTimezone(raw: string, origin: string): TimezonePlan {
  const zone = raw.trim();
  if (!ZONE_NAME.test(zone) || zone.length > 128) throw new ConfigError(origin, `${JSON.stringify(raw)} is not a time zone name (like Europe/Prague or UTC)`);
  return { zone, origin };
}

async function needTool(host: Host, tool: string, pkg: string): Promise<string> {
  const found = await host.which(tool);
  if (found === undefined) throw new ConfigError(tool, `tool ${tool} is not installed in the guest (package ${pkg})`);
  return found;
}

export const timezone: Module<TimezonePlan> = {
  name: 'timezone',
  stage: 'network',
  frequency: 'always',
  description: 'set the time zone from TIMEZONE or cloud-config timezone',
  parse(cfg) {
    // The context wins over cloud-config, as it does for the hostname.
    const ctxZone = cfg.context?.get('TIMEZONE');
    if (ctxZone !== undefined && ctxZone.trim() !== '') return planTimezone(ctxZone, 'context TIMEZONE');
    if (cfg.cloud.timezone !== undefined && cfg.cloud.timezone.trim() !== '') return planTimezone(cfg.cloud.timezone, 'cloud-config timezone');
    return undefined;
  },
  async run(ctx: ModuleContext, plan: TimezonePlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    const zoneFile = `${ZONEINFO}/${plan.zone}`;
    const info = await host.stat(zoneFile);
    if (info?.type !== 'file') {
      throw new ConfigError(plan.origin, `unknown time zone ${plan.zone}: ${zoneFile} does not exist in the guest${(await host.exists(ZONEINFO)) ? '' : ' (is tzdata installed?)'}`);
    }
    const zoneData = await host.readFile(zoneFile, 1024 * 1024);
    const debianLike = (await host.exists(ETC_TIMEZONE)) || (await host.exists('/etc/debian_version'));
    const current = (await host.stat(LOCALTIME))?.type === 'file' ? await host.readFile(LOCALTIME, 1024 * 1024) : undefined;
    const currentName = debianLike ? (await host.readTextIfExists(ETC_TIMEZONE))?.trim() : plan.zone;
    // The Host cannot read a link's target, so "already set" is: same zone data, and the same name in /etc/timezone where it is kept.
    if (current !== undefined && current.equals(zoneData) && currentName === plan.zone) {
      return { skipped: `time zone is already ${plan.zone}`, details: { zone: plan.zone } };
    }
    let method: string | undefined;
    if (host.live) {
      const timedatectl = await host.which('timedatectl');
      if (timedatectl !== undefined) {
        const res = await host.run(timedatectl, ['set-timezone', plan.zone], { timeoutMs: 30_000 });
        // Early in boot systemd-timedated may not answer yet: then the files are set directly.
        if (res.code === 0) method = 'timedatectl';
        else log.warn(`timedatectl set-timezone exited with status ${res.code} (${res.stderr.trim() || 'no message'}); setting ${LOCALTIME} directly`);
      }
    }
    if (method === undefined) {
      const ln = await needTool(host, 'ln', 'coreutils');
      const res = await host.run(ln, ['-sf', zoneFile, LOCALTIME], { timeoutMs: 30_000 });
      if (res.code !== 0) throw new ConfigError(plan.origin, `ln -sf ${zoneFile} ${LOCALTIME} exited with status ${res.code} (${res.stderr.trim() || 'no message'})`);
      method = 'symlink';
    }
    if (debianLike) await host.writeFile(ETC_TIMEZONE, `${plan.zone}\n`, { mode: 0o644 });
    log.info(`time zone set to ${plan.zone} (${plan.origin}, ${method})`);
    return { details: { zone: plan.zone, method } };
  },
};

// ---------------------------------------------------------------------------

export const DEFAULT_LOCALE_FILE = '/etc/default/locale';
const LOCALE_GEN = '/etc/locale.gen';
const SUPPORTED = '/usr/share/i18n/SUPPORTED';
/** Locales glibc always has: nothing to generate. */
const BUILTIN_LOCALES = new Set(['C', 'POSIX', 'C.UTF-8', 'C.utf8']);

export interface LocalePlan {
  readonly locale: string;
  readonly configFile: string;
}

const LOCALE_NAME = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)?(@[A-Za-z0-9_]+)?$/;

/** glibc's normalised form, as `locale -a` and localedef print it: "en_US.UTF-8" -> "en_US.utf8". */
export function normaliseLocale(name: string): string {
  const m = /^([^.@]+)(?:\.([^@]+))?(@.+)?$/.exec(name);
  if (!m) return name;
  const codeset = m[2] !== undefined ? `.${m[2].toLowerCase().replace(/[^a-z0-9]/g, '')}` : '';
  return `${m[1]}${codeset}${m[3] ?? ''}`;
}

/** Set LANG=, keeping every other line of the file. */
export function setLang(text: string, locale: string): string {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  let found = false;
  const out = lines.map((l) => {
    if (/^\s*(export\s+)?LANG=/.test(l)) {
      found = true;
      return `LANG=${locale}`;
    }
    return l;
  });
  if (!found) out.push(`LANG=${locale}`);
  return `${out.join('\n')}\n`;
}

/**
 * Enable `locale` in locale.gen: uncomment its line, or add it with the
 * charset named in SUPPORTED. Returns the new text, or undefined when it is
 * already enabled.
 */
export function enableInLocaleGen(text: string, locale: string, supported: string | undefined): string | undefined {
  const want = normaliseLocale(locale);
  const lines = text.replace(/\n$/, '').split('\n');
  const nameOf = (l: string): string | undefined => /^\s*#?\s*(\S+)\s+\S+\s*$/.exec(l)?.[1];
  if (lines.some((l) => !/^\s*#/.test(l) && nameOf(l) !== undefined && normaliseLocale(nameOf(l) as string) === want)) return undefined;
  const commented = lines.findIndex((l) => /^\s*#/.test(l) && nameOf(l) !== undefined && normaliseLocale(nameOf(l) as string) === want);
  if (commented >= 0) {
    lines[commented] = (lines[commented] as string).replace(/^\s*#\s*/, '');
    return `${lines.join('\n')}\n`;
  }
  const entry = supported?.split('\n').map((l) => l.trim()).find((l) => nameOf(l) !== undefined && normaliseLocale(nameOf(l) as string) === want);
  if (entry === undefined) throw new ConfigError('cloud-config locale', `locale ${locale} is not supported by the guest (not listed in ${SUPPORTED})`);
  lines.push(entry);
  return `${lines.join('\n')}\n`;
}

/** Whether the locale is already compiled, from `localedef --list-archive` (undefined when that cannot be asked). */
async function isGenerated(host: Host, locale: string): Promise<boolean | undefined> {
  const localedef = await host.which('localedef');
  if (localedef === undefined) return undefined;
  const res = await host.run(localedef, ['--list-archive'], { readOnly: true, timeoutMs: 30_000 });
  if (res.code !== 0) return undefined;
  return res.stdout.split('\n').some((l) => normaliseLocale(l.trim()) === normaliseLocale(locale));
}

export const locale: Module<LocalePlan> = {
  name: 'locale',
  stage: 'network',
  frequency: 'per-instance',
  description: 'set the system locale (cloud-config locale) and generate it when needed',
  parse(cfg) {
    const value = cfg.cloud.locale;
    if (value === undefined || value === false || value.trim() === '') return undefined;
    const name = value.trim();
    if (!LOCALE_NAME.test(name)) throw new ConfigError('cloud-config locale', `${JSON.stringify(value)} is not a locale name (like en_US.UTF-8)`);
    const configFile = cfg.cloud.locale_configfile ?? DEFAULT_LOCALE_FILE;
    if (!configFile.startsWith('/') || configFile.split('/').includes('..')) {
      throw new ConfigError('cloud-config locale_configfile', `${JSON.stringify(configFile)} must be an absolute path without ".."`);
    }
    return { locale: name, configFile };
  },
  async run(ctx: ModuleContext, plan: LocalePlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    let generated = false;
    if (!BUILTIN_LOCALES.has(plan.locale)) {
      const localeGenText = await host.readTextIfExists(LOCALE_GEN);
      if (localeGenText !== undefined) {
        // Debian's way: list the locale in /etc/locale.gen, then compile the list with locale-gen.
        const updated = enableInLocaleGen(localeGenText, plan.locale, await host.readTextIfExists(SUPPORTED));
        if (updated !== undefined) await host.writeFile(LOCALE_GEN, updated, { mode: (await host.stat(LOCALE_GEN))?.mode ?? 0o644 });
        if (updated !== undefined || (await isGenerated(host, plan.locale)) !== true) {
          const localeGen = await needTool(host, 'locale-gen', 'locales');
          const res = await host.run(localeGen, [], { timeoutMs: 10 * 60_000 });
          if (res.code !== 0) throw new ConfigError('locale-gen', `exited with status ${res.code} (${res.stderr.trim().split('\n').slice(-1)[0] || 'no message'}); ${plan.configFile} left unchanged`);
          generated = true;
        }
      }
    }
    const current = (await host.readTextIfExists(plan.configFile)) ?? '';
    const changed = await host.writeFile(plan.configFile, setLang(current, plan.locale), { mode: 0o644 });
    log.info(changed || generated ? `locale set to ${plan.locale} in ${plan.configFile}${generated ? ' (generated with locale-gen)' : ''}` : `locale is already ${plan.locale}`);
    return { details: { locale: plan.locale, configFile: plan.configFile, generated } };
  },
};
