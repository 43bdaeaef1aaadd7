// Fuzz target: context.sh read as data. Lenient and strict parsing must agree
// (strict success = lenient with no errors and the same values), and what the
// parser returns must survive formatContextSh -> parseContextSh unchanged.
import { formatContextSh, parseContextSh, parseContextShLenient } from '../../../src/formats/context-sh';
import { GuestctxError } from '../../../src/errors';
import { fixtureFiles, invariant, readAll } from '../support';

export const tokens = [
  "='", "='\\''", '$NAME', '${NAME}', '$A$A$A$A', 'export ', 'A=', 'A+=', "$'\\x00'", "$'\\u2028'", "$'\\", '$"', '<<EOF\n', 'EOF\n',
  '(', ')', '&&', '||', '~', '~/', 'if true; then\n', 'fi\n', 'for', 'function f {', 'declare -a', 'A[0]=', '\\\n', '"$(id)"',
];
export const maxLen = 256 * 1024;

export function seeds(): Buffer[] {
  return readAll([
    ...fixtureFiles('test/fixtures/formats/context-sh', (n) => n === 'context.sh'),
    ...fixtureFiles('test/fixtures/opennebula', (n) => n === 'context.sh'),
  ]);
}

function sameVars(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** Outcome shape for the fuzzer's corpus: which kinds of problems the text hit. */
function outcome(errors: readonly { message: string }[], vars: number): string {
  const kinds = new Set(errors.map((e) => e.message.replace(/\d+/g, 'N').replace(/"[^"]*"|'[^']*'|`[^`]*`/g, 'S').slice(0, 60)));
  return `${Math.min(vars, 8)}|${[...kinds].sort().join('|')}`;
}

export function fuzz(data: Buffer): string {
  const text = data.toString('utf8');
  const lenient = parseContextShLenient(text, 'context.sh');
  let strict: ReadonlyMap<string, string> | undefined;
  try {
    strict = parseContextSh(text, 'context.sh');
  } catch (err) {
    if (!(err instanceof GuestctxError)) throw err;
    invariant(lenient.errors.length > 0, `strict parse failed (${err.message}) but lenient reported no error`);
  }
  if (strict !== undefined) {
    invariant(lenient.errors.length === 0, `strict parse succeeded but lenient reported: ${lenient.errors[0]?.message}`);
    invariant(sameVars(strict, lenient.vars), 'strict and lenient parses returned different values');
  }
  // What was read must be writable and read back identically (NUL values are refused by the writer).
  let written: string;
  try {
    written = formatContextSh(lenient.vars);
  } catch (err) {
    if (err instanceof GuestctxError) return `${outcome(lenient.errors, lenient.vars.size)}|unwritable`;
    throw err;
  }
  invariant(sameVars(parseContextSh(written, 'context.sh (rewritten)'), lenient.vars), 'format -> parse changed the values');
  return outcome(lenient.errors, lenient.vars.size);
}
