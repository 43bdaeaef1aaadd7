// Sudo rules for the configured users: one file, /etc/sudoers.d/90-guestctx-users
// (0440), rendered whole from the configuration so a new instance never keeps a
// stale rule. When the guest has visudo, the candidate is checked first and a
// rejected rule leaves the previous file in place: a typo in user-data must
// not lock everyone out of sudo.
import { ConfigError } from '../errors';
import type { Host } from '../host/host';
import type { Logger } from '../log/logger';

export const SUDOERS_FILE = '/etc/sudoers.d/90-guestctx-users';
const SUDOERS_MODE = 0o440;

export interface SudoRule {
  readonly user: string;
  /** What follows the user name on the sudoers line: "ALL=(ALL) NOPASSWD:ALL". */
  readonly rule: string;
  /** The key it came from, for messages: "users[1].sudo[0]", "context USERNAME_SUDO". */
  readonly source: string;
}

/** undefined when `rule` can be one sudoers line. */
export function ruleProblem(rule: string): string | undefined {
  if (rule.trim() === '') return 'the rule is empty';
  if (/[\n\r\0]/.test(rule)) return 'a sudo rule must be one line (it contains a line break or NUL)';
  if (rule.trimEnd().endsWith('\\')) return 'a sudo rule must not end with "\\" (it would continue onto the next line)';
  return undefined;
}

export interface RenderedSudoers {
  readonly text: string;
  /** 1-based line number -> the rule on it, to name the source of a visudo error. */
  readonly lines: ReadonlyMap<number, SudoRule>;
}

export function renderSudoers(rules: readonly SudoRule[]): RenderedSudoers {
  const out = [
    '# Written by guestctx from the users configuration of this instance.',
    '# Rewritten on a new instance: put local rules in another file.',
  ];
  const lines = new Map<number, SudoRule>();
  for (const r of rules) {
    out.push(`${r.user} ${r.rule.trim()}`);
    lines.set(out.length, r);
  }
  return { text: `${out.join('\n')}\n`, lines };
}

/** The line visudo complains about: "file:3:24: syntax error" or "... near line 3 <<<". */
function errorLine(output: string): number | undefined {
  const m = /:(\d+):\d+: syntax error/.exec(output) ?? /near line (\d+)/.exec(output);
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

const INCLUDE_DIR = /^\s*[#@]includedir\s+\/etc\/sudoers\.d\s*$/m;

export type SudoersResult = 'written' | 'unchanged' | 'removed' | 'none';

/**
 * Install the rules. `scratch` is a guest path (under the state directory)
 * where the candidate is checked with visudo before it replaces the real file.
 */
export async function installSudoers(host: Host, log: Logger, rules: readonly SudoRule[], scratch: string): Promise<SudoersResult> {
  if (rules.length === 0) {
    if (!(await host.exists(SUDOERS_FILE))) return 'none';
    await host.remove(SUDOERS_FILE);
    log.info(`${SUDOERS_FILE} removed: no user of this instance has sudo rules`);
    return 'removed';
  }
  const { text, lines } = renderSudoers(rules);
  const current = await host.stat(SUDOERS_FILE);
  if (current?.type === 'file' && current.mode === SUDOERS_MODE && current.uid === 0 && (await host.readText(SUDOERS_FILE)) === text) return 'unchanged';

  const visudo = await host.which('visudo');
  if (visudo !== undefined && !host.dryRun) {
    await host.writeFile(scratch, text, { mode: SUDOERS_MODE });
    let res;
    try {
      res = await host.run(visudo, ['-cf', scratch], { readOnly: true, timeoutMs: 30_000 });
    } finally {
      await host.remove(scratch);
    }
    if (res.code !== 0) {
      const output = `${res.stderr}\n${res.stdout}`;
      const line = errorLine(output);
      const rule = line !== undefined ? lines.get(line) : undefined;
      const shown = output.trim().split('\n')[0]?.replace(scratch, SUDOERS_FILE) ?? '';
      if (rule) throw new ConfigError(rule.source, `sudo rule ${JSON.stringify(rule.rule)} for ${rule.user} is rejected by visudo (${shown}); ${SUDOERS_FILE} is unchanged`);
      throw new ConfigError(SUDOERS_FILE, `visudo rejects the new rules (${shown}); the file is unchanged`);
    }
  } else if (visudo === undefined) {
    log.warn(`visudo is not installed in the guest: ${SUDOERS_FILE} is written unchecked (sudo reads it once installed)`);
  }

  if (!(await host.exists('/etc/sudoers.d'))) await host.mkdir('/etc/sudoers.d', { mode: 0o755 });
  // Without an includedir line sudo never reads the drop-in; "#includedir" is understood by old and new sudo.
  const main = await host.readTextIfExists('/etc/sudoers');
  if (main !== undefined && !INCLUDE_DIR.test(main)) {
    const mode = (await host.stat('/etc/sudoers'))?.mode ?? SUDOERS_MODE;
    await host.writeFile('/etc/sudoers', `${main}${main.endsWith('\n') || main === '' ? '' : '\n'}#includedir /etc/sudoers.d\n`, { mode });
    log.info('/etc/sudoers: added "#includedir /etc/sudoers.d"');
  }
  await host.writeFile(SUDOERS_FILE, text, { mode: SUDOERS_MODE });
  log.info(`${SUDOERS_FILE}: ${rules.length} rule(s) for ${[...new Set(rules.map((r) => r.user))].join(', ')}`);
  return 'written';
}
