// The account an OpenNebula context configures, read as one-context reads it:
// USERNAME (root when unset; root is never created), USERNAME_SHELL (/bin/bash),
// USERNAME_SUDO (falling back to the legacy GRANT_SUDO, then YES),
// USERNAME_PASSWORD_RESET, and the password from the first non-empty of
// CRYPTED_PASSWORD_BASE64, PASSWORD_BASE64, CRYPTED_PASSWORD, PASSWORD.
import { ConfigError } from '../errors';
import { fieldProblem, nameProblem } from './names';

export type PasswordInput =
  | { readonly kind: 'hash'; readonly hash: string; readonly origin: string }
  | { readonly kind: 'text'; readonly text: string; readonly origin: string };

export interface ContextAccount {
  readonly user: string;
  readonly shell: string;
  /** USERNAME_SUDO=YES and the user is not root: "ALL=(ALL) NOPASSWD:ALL". */
  readonly sudo: boolean;
  /** USERNAME_PASSWORD_RESET=YES: apply the password (or "*") on every boot. */
  readonly passwordReset: boolean;
  readonly password?: PasswordInput;
  /** Bad values: reported, the rest of the account still applies. */
  readonly problems: readonly ConfigError[];
}

export const CONTEXT_SUDO_RULE = 'ALL=(ALL) NOPASSWD:ALL';

/** OpenNebula templates leave unused variables empty: empty means unset. */
function get(vars: ReadonlyMap<string, string>, key: string): string | undefined {
  const v = vars.get(key);
  return v === undefined || v.trim() === '' ? undefined : v;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decode like `$(echo $V | base64 -d)`: whitespace ignored, trailing newlines dropped. */
function decodeBase64(value: string, key: string): string {
  const compact = value.replace(/\s+/g, '');
  if (!BASE64.test(compact) || compact.length % 4 === 1) throw new ConfigError(`context ${key}`, 'is not valid base64; no password was set');
  return Buffer.from(compact, 'base64').toString('utf8').replace(/\n+$/, '');
}

function hashInput(hash: string, key: string): PasswordInput {
  const h = hash.trim();
  if (h === '' || /[:\n\r\0]/.test(h)) throw new ConfigError(`context ${key}`, 'is not a crypt(3) hash (it is empty or contains ":" or a line break); no password was set');
  return { kind: 'hash', hash: h, origin: `context ${key}` };
}

function textInput(text: string, key: string): PasswordInput {
  if (text === '') throw new ConfigError(`context ${key}`, 'decodes to an empty password; no password was set');
  return { kind: 'text', text, origin: `context ${key}` };
}

function contextPassword(vars: ReadonlyMap<string, string>): PasswordInput | undefined {
  const cb64 = get(vars, 'CRYPTED_PASSWORD_BASE64');
  if (cb64 !== undefined) return hashInput(decodeBase64(cb64, 'CRYPTED_PASSWORD_BASE64'), 'CRYPTED_PASSWORD_BASE64');
  const pb64 = get(vars, 'PASSWORD_BASE64');
  if (pb64 !== undefined) return textInput(decodeBase64(pb64, 'PASSWORD_BASE64'), 'PASSWORD_BASE64');
  const crypted = get(vars, 'CRYPTED_PASSWORD');
  if (crypted !== undefined) return hashInput(crypted, 'CRYPTED_PASSWORD');
  const plain = get(vars, 'PASSWORD');
  if (plain !== undefined) return textInput(plain, 'PASSWORD');
  return undefined;
}

function yes(value: string | undefined, fallback: boolean): boolean {
  return value === undefined ? fallback : value.trim().toUpperCase() === 'YES';
}

/** Throws a ConfigError naming USERNAME when it is not a valid user name. */
export function contextAccount(vars: ReadonlyMap<string, string>): ContextAccount {
  const problems: ConfigError[] = [];
  const user = get(vars, 'USERNAME')?.trim() ?? 'root';
  const bad = nameProblem(user);
  if (bad !== undefined) throw new ConfigError('context USERNAME', bad);
  let shell = get(vars, 'USERNAME_SHELL')?.trim() ?? '/bin/bash';
  const shellBad = fieldProblem(shell);
  if (shellBad !== undefined) {
    problems.push(new ConfigError('context USERNAME_SHELL', `${shellBad}; /bin/bash is used`));
    shell = '/bin/bash';
  }
  const sudo = user !== 'root' && yes(get(vars, 'USERNAME_SUDO') ?? get(vars, 'GRANT_SUDO'), true);
  const passwordReset = yes(get(vars, 'USERNAME_PASSWORD_RESET'), false);
  let password: PasswordInput | undefined;
  try {
    password = contextPassword(vars);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(err);
  }
  return { user, shell, sudo, passwordReset, ...(password ? { password } : {}), problems };
}
