// The guest's own account tools, run through the Host (chrooted with --root,
// recorded in --dry-run). Passwords only ever travel as crypt(3) hashes on
// chpasswd's standard input, marked secret so nothing records or logs them.
import { ConfigError } from '../errors';
import type { CommandResult, Host, RunOptions } from '../host/host';

const TOOL_TIMEOUT_MS = 60_000;

/** The tool's guest path, or a ConfigError saying it is not installed. */
export async function requireTool(host: Host, tool: string, source: string): Promise<string> {
  const found = await host.which(tool);
  if (found === undefined) throw new ConfigError(source, `${tool} is not installed in the guest`);
  return found;
}

/** Run a tool; a non-zero exit becomes a ConfigError naming `source` and quoting the tool's message. */
export async function runTool(host: Host, tool: string, args: readonly string[], source: string, opts: RunOptions = {}): Promise<CommandResult> {
  const path = await requireTool(host, tool, source);
  const res = await host.run(path, args, { timeoutMs: TOOL_TIMEOUT_MS, ...opts });
  if (res.code !== 0) {
    const why = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(0, 3).join(' / ');
    throw new ConfigError(source, `${tool} exited ${res.signal ? `on ${res.signal}` : res.code}${why ? `: ${why}` : ''}`);
  }
  return res;
}

export interface HashEntry {
  readonly user: string;
  /** A crypt(3) hash (or "*" / "!" for no password); never clear text. */
  readonly hash: string;
}

/** One `chpasswd -e` for all entries, the hashes on standard input only. */
export async function setPasswordHashes(host: Host, entries: readonly HashEntry[], source: string): Promise<void> {
  if (entries.length === 0) return;
  for (const e of entries) {
    // A ":" or line break would let one entry rewrite another account's line.
    if (/[:\n\r\0]/.test(e.hash) || /[:\n\r\0]/.test(e.user)) throw new ConfigError(source, `the password hash for ${e.user} contains ":" or a line break`);
  }
  const input = entries.map((e) => `${e.user}:${e.hash}\n`).join('');
  await runTool(host, 'chpasswd', ['-e'], source, { input, secretInput: true });
}

/** `passwd -l`: keep the hash but refuse password logins. */
export async function lockPassword(host: Host, user: string, source: string): Promise<void> {
  await runTool(host, 'passwd', ['-l', user], source);
}

/** `passwd -e`: the user must choose a new password at the next login. */
export async function expirePassword(host: Host, user: string, source: string): Promise<void> {
  await runTool(host, 'passwd', ['-e', user], source);
}
