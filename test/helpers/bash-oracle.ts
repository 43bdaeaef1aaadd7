// Test helper: asks bash itself what a context.sh assigns, so the parser can be
// checked against the shell it imitates. Many files are sourced by one bash
// process (each in its own subshell) so property tests stay fast.
//
// Each file is sourced with `set -a` under `env -i LC_ALL=C.UTF-8`, then every
// exported variable is written NUL-separated (`printf '%s\0%s\0'`), which
// survives any value bash can hold. Only trusted test inputs go through here.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BashSourceResult {
  /** Variables the file left exported, minus those bash itself provides (BASH_OWN_EXPORTS). */
  vars: Map<string, string>;
  /** What bash wrote on stderr while sourcing (syntax errors, "command not found"). */
  stderr: string;
  /** Exit status of `.` (the last command of the file). */
  status: number;
}

/** Variables that bash (or the oracle's environment) exports by itself; dropped from results. */
export const BASH_OWN_EXPORTS: ReadonlySet<string> = new Set(['PWD', 'OLDPWD', 'SHLVL', 'LC_ALL', '_']);

const DRIVER = `
__oracle_dir=$1
__oracle_i=0
while [ "$__oracle_i" -lt "$2" ]; do
  (
    set -a
    . "$__oracle_dir/f$__oracle_i.sh" >/dev/null
    __oracle_st=$?
    set +a
    export -n __oracle_st
    for __oracle_n in $(compgen -e); do
      printf '%s\\0%s\\0' "$__oracle_n" "\${!__oracle_n}"
    done
    exit "$__oracle_st"
  ) >"$__oracle_dir/o$__oracle_i" 2>"$__oracle_dir/e$__oracle_i"
  echo "$?" >"$__oracle_dir/s$__oracle_i"
  __oracle_i=$((__oracle_i + 1))
done
`;

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Sources every text with bash (one process for all) and returns what each assigned. */
export function bashSourceMany(texts: readonly string[]): BashSourceResult[] {
  const dir = mkdtempSync(join(tmpdir(), 'guestctx-bash-oracle-'));
  try {
    texts.forEach((t, i) => writeFileSync(join(dir, `f${i}.sh`), t, 'utf8'));
    writeFileSync(join(dir, 'driver.sh'), DRIVER);
    execFileSync('env', ['-i', 'LC_ALL=C.UTF-8', 'bash', '--norc', '--noprofile', join(dir, 'driver.sh'), dir, String(texts.length)], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 60_000,
    });
    return texts.map((_, i) => ({
      vars: parseDump(readFileSync(join(dir, `o${i}`))),
      stderr: readFileSync(join(dir, `e${i}`), 'utf8'),
      status: Number(readFileSync(join(dir, `s${i}`), 'utf8').trim()),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sources one text with bash. */
export function bashSource(text: string): BashSourceResult {
  const [result] = bashSourceMany([text]);
  if (result === undefined) throw new Error('bash oracle returned no result');
  return result;
}

function parseDump(buf: Buffer): Map<string, string> {
  const vars = new Map<string, string>();
  let start = 0;
  let name: string | undefined;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0) continue;
    const field = decoder.decode(buf.subarray(start, i));
    start = i + 1;
    if (name === undefined) name = field;
    else {
      if (!BASH_OWN_EXPORTS.has(name)) vars.set(name, field);
      name = undefined;
    }
  }
  return vars;
}
