// Property tests for the context.sh parser, with bash as the oracle: random
// files in the OpenNebula style and in randomly mixed quoting styles must give
// exactly the variables bash gives when it sources them. Files are generated
// with fast-check and sent to bash in one batch, so hundreds of cases cost one
// bash process. Set CONTEXT_SH_SEED to replay a failing run, CONTEXT_SH_SCALE=20
// for a longer soak.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/errors';
import { formatContextSh, parseContextSh, parseContextShLenient } from '../../src/formats/context-sh';
import { bashSourceMany, type BashSourceResult } from '../helpers/bash-oracle';

const SCALE = Math.max(1, Number(process.env.CONTEXT_SH_SCALE ?? 1));
const SEED = process.env.CONTEXT_SH_SEED !== undefined ? Number(process.env.CONTEXT_SH_SEED) : Date.now() % 2 ** 31;

// ---------------------------------------------------------------------------
// Model of a file

/** Names bash gives a meaning of its own; excluded because bash would not store them as data. */
const BASH_NAMES = new Set(
  (
    '_ PWD OLDPWD SHLVL UID EUID PPID RANDOM SRANDOM SECONDS LINENO HISTCMD IFS PATH HOME OPTIND OPTARG OPTERR ' +
    'SHELLOPTS BASHOPTS HOSTNAME HOSTTYPE MACHTYPE OSTYPE LANG POSIXLY_CORRECT ENV CDPATH TMOUT IGNOREEOF GLOBIGNORE ' +
    'FIGNORE INPUTRC TERM COLUMNS LINES REPLY TIMEFORMAT EXECIGNORE PROMPT_COMMAND PROMPT_DIRTRIM auto_resume ' +
    'histchars HOSTFILE COPROC MAPFILE CHILD_MAX FCEDIT EMACS FUNCNAME GROUPS DIRSTACK PIPESTATUS'
  ).split(' '),
);
const BASH_PREFIXES = /^(BASH|COMP|READLINE_|HIST|PS\d|MAIL|LC_|SHELL|EPOCH|TEXTDOMAIN|__)/;

const nameArb = fc
  .stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/)
  .filter((k) => !BASH_NAMES.has(k) && !BASH_PREFIXES.test(k));
// A small pool makes overrides, appends and references to earlier keys common.
const keyArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('ETH0_IP', 'ETH0_MAC', 'SSH_PUBLIC_KEY', 'A', 'b_1', 'USER_DATA', 'if', 'export') },
  { weight: 3, arbitrary: nameArb },
);

const SPECIAL_CHARS = [
  "'", '"', '\\', '$', '`', '\n', '\t', ' ', '#', ';', '|', '&', '<', '>', '(', ')', '{', '}', '[', ']', '*', '?',
  '~', ':', '=', '!', '%', '^', ',', '@', '-', '+', '/', '.', '\r', '\v', '\f', '\x01', '\x1b', '\x7f', 'é', '€',
  '😀', '\u00a0', '\u3000', '\ufeff', '\u2028', '\u0085',
];
const charArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_CHARS) },
  { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 0xa0, max: 0x10ffff })
      .filter((c) => c < 0xd800 || c > 0xdfff)
      .map((c) => String.fromCodePoint(c)),
  },
);
const textArb = fc.array(charArb, { maxLength: 12 }).map((a) => a.join(''));

type Piece = { lit: string } | { ref: number };
interface AssignModel {
  key: string;
  append: boolean;
  pieces: Piece[];
}
type StatementModel =
  | { kind: 'assign'; words: AssignModel[] }
  | { kind: 'export'; words: (AssignModel | { bare: string })[] }
  | { kind: 'comment'; text: string }
  | { kind: 'blank'; ws: string };
interface FileModel {
  statements: StatementModel[];
  seed: number;
}

const pieceArb: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 6, arbitrary: textArb.map((lit) => ({ lit })) },
  { weight: 1, arbitrary: fc.nat().map((ref) => ({ ref })) },
);
const assignArb: fc.Arbitrary<AssignModel> = fc.record({
  key: keyArb,
  append: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
  pieces: fc.array(pieceArb, { maxLength: 3 }),
});
const statementArb: fc.Arbitrary<StatementModel> = fc.oneof(
  { weight: 6, arbitrary: fc.array(assignArb, { minLength: 1, maxLength: 3 }).map((words) => ({ kind: 'assign' as const, words })) },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.oneof({ weight: 3, arbitrary: assignArb }, { weight: 1, arbitrary: keyArb.map((bare) => ({ bare })) }), {
        minLength: 1,
        maxLength: 3,
      })
      .map((words) => ({ kind: 'export' as const, words })),
  },
  { weight: 1, arbitrary: textArb.map((t) => ({ kind: 'comment' as const, text: t.replace(/\n/g, ' ') })) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t ').map((ws) => ({ kind: 'blank' as const, ws })) },
);
const fileArb: fc.Arbitrary<FileModel> = fc.record({ statements: fc.array(statementArb, { maxLength: 8 }), seed: fc.integer() });

// ---------------------------------------------------------------------------
// Rendering a model as bash text in randomly mixed styles

/** Small deterministic PRNG, so one model always renders to the same text. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}
type Rng = ReturnType<typeof prng>;
const pick = <T,>(rng: Rng, xs: readonly T[]): T => xs[rng(xs.length)] as T;

const isNameChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
/** After an unquoted or double-quoted `$`, these characters would start an expansion. */
const expandsAfterDollar = (c: string | undefined): boolean =>
  c === undefined || isNameChar(c) || '{([@*#?$!-\n\'"'.includes(c);

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function singleQuoted(s: string, rng: Rng): string {
  return `'${s.replace(/'/g, () => pick(rng, ["'\\''", `'"'"'`]))}'`;
}

function doubleQuoted(s: string, rng: Rng): string {
  let out = '"';
  const chars = [...s];
  chars.forEach((c, i) => {
    const n = chars[i + 1];
    let unit: string;
    if (c === '"' || c === '`') unit = `\\${c}`;
    // A lone backslash is literal before other characters; before \x01/\x7f the parser refuses it.
    else if (c === '\\') unit = n === undefined || '$`"\\\n\x01\x7f'.includes(n) || rng(2) === 0 ? '\\\\' : '\\';
    else if (c === '$') unit = n !== undefined && !expandsAfterDollar(n) && rng(2) === 0 ? '$' : '\\$';
    else unit = c;
    out += unit;
    // A line continuation vanishes; never after a lone backslash or a bare `$`.
    if (unit !== '\\' && unit !== '$' && rng(12) === 0) out += '\\\n';
  });
  return `${out}"`;
}

const ANSI_NAMED: Readonly<Record<string, string[]>> = {
  '\n': ['\\n', '\n'],
  '\t': ['\\t', '\t'],
  '\r': ['\\r'],
  '\v': ['\\v'],
  '\f': ['\\f'],
  '\x07': ['\\a'],
  '\b': ['\\b'],
  '\x1b': ['\\e', '\\E'],
  '\x7f': ['\\c?'],
  '\\': ['\\\\'],
  "'": ["\\'"],
  '"': ['\\"', '"'],
  '?': ['\\?', '?'],
};

function ansiC(s: string, rng: Rng): string {
  let out = "$'";
  for (const c of s) {
    const cp = c.codePointAt(0) as number;
    const named = ANSI_NAMED[c];
    const forms: string[] = named ? [...named] : [c];
    if (c !== '\\' && c !== "'") {
      if (cp < 0x80) forms.push(`\\x${hex(cp, 2)}`, `\\${cp.toString(8).padStart(3, '0')}`);
      else {
        forms.push([...new TextEncoder().encode(c)].map((b) => `\\x${hex(b, 2)}`).join(''));
        forms.push(cp <= 0xffff ? `\\u${hex(cp, 4)}` : `\\U${hex(cp, 8)}`);
      }
      if (cp >= 1 && cp <= 26) forms.push(`\\c${String.fromCharCode(64 + cp)}`, `\\c${String.fromCharCode(96 + cp)}`);
    }
    out += pick(rng, forms);
  }
  return `${out}'`;
}

function unquoted(s: string, rng: Rng): string {
  let out = '';
  const chars = [...s];
  chars.forEach((c, i) => {
    const n = chars[i + 1];
    const prev = chars[i - 1];
    let unit: string;
    if (c === '\n') unit = pick(rng, ["$'\\n'", "'\n'", '"\n"']);
    else if (" \t'\"\\`|&;<>()".includes(c)) unit = `\\${c}`;
    else if (c === '$') unit = n !== undefined && !expandsAfterDollar(n) && rng(2) === 0 ? '$' : '\\$';
    else if (c === '~') unit = prev !== undefined && /[A-Za-z0-9]/.test(prev) && rng(2) === 0 ? '~' : '\\~';
    else unit = rng(6) === 0 ? `\\${c}` : c;
    out += unit;
    if (unit !== '$' && rng(12) === 0) out += '\\\n';
  });
  return out;
}

function renderValue(pieces: Piece[], defined: readonly string[], rng: Rng): string {
  let out = '';
  pieces.forEach((piece, i) => {
    if ('ref' in piece) {
      const key = defined.length > 0 ? defined[piece.ref % defined.length] : undefined;
      if (key === undefined) return;
      const forms = [`\${${key}}`, `"\${${key}}"`, `"$${key}"`, `"x$${key}/"`];
      if (i === pieces.length - 1) forms.push(`$${key}`);
      out += pick(rng, forms);
      return;
    }
    // Cut the text into chunks, each written in its own quoting style.
    const chars = [...piece.lit];
    while (chars.length > 0) {
      const chunk = chars.splice(0, 1 + rng(5)).join('');
      const style = rng(4);
      out +=
        style === 0 ? singleQuoted(chunk, rng) : style === 1 ? doubleQuoted(chunk, rng) : style === 2 ? ansiC(chunk, rng) : unquoted(chunk, rng);
    }
  });
  return out;
}

const SEPARATORS = [' ', '\t', '  ', ' \\\n', ' \\\n\t'];
const ENDINGS = ['\n', ';\n', ' ;\n', ' # end of line\n', '\t#c \\\n', '; ', ';'];

function renderFile(model: FileModel): string {
  const rng = prng(model.seed);
  const defined: string[] = [];
  let out = '';
  for (const st of model.statements) {
    if (st.kind === 'blank') {
      out += `${st.ws}\n`;
      continue;
    }
    if (st.kind === 'comment') {
      out += `${pick(rng, ['', ' ', '\t'])}#${st.text}\n`;
      continue;
    }
    out += pick(rng, ['', '', ' ', '\t']);
    const words: string[] = [];
    const before = [...defined];
    if (st.kind === 'export') words.push('export');
    for (const w of st.words) {
      if ('bare' in w) {
        words.push(w.bare);
        continue;
      }
      // Plain assignments run left to right; export expands everything first.
      const visible = st.kind === 'assign' ? defined : before;
      words.push(`${w.key}${w.append ? '+=' : '='}${renderValue(w.pieces, visible, rng)}`);
      defined.push(w.key);
    }
    out += words.map((w, i) => (i === 0 ? w : pick(rng, SEPARATORS) + w)).join('');
    out += pick(rng, ENDINGS);
  }
  return rng(4) === 0 ? out.replace(/\n$/, '') : out;
}

// ---------------------------------------------------------------------------

function sorted(m: ReadonlyMap<string, string>): [string, string][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function checkAgainstBash(texts: readonly string[], results: readonly BashSourceResult[], label: string): void {
  texts.forEach((text, i) => {
    const bash = results[i] as BashSourceResult;
    const context = `${label} #${i} (CONTEXT_SH_SEED=${SEED}):\n${JSON.stringify(text)}`;
    expect(bash.stderr, `bash complained about ${context}`).toBe('');
    let parsed: ReadonlyMap<string, string>;
    try {
      parsed = parseContextSh(text, 'context.sh');
    } catch (err) {
      throw new Error(`parser refused ${context}: ${err instanceof Error ? err.message : String(err)}`);
    }
    expect(sorted(parsed), context).toEqual(sorted(bash.vars));
  });
}

describe('context.sh parser against bash', () => {
  it('agrees with bash on random files in OpenNebula and mixed styles', () => {
    const mapArb = fc.array(fc.tuple(keyArb, textArb), { maxLength: 10 }).map((e) => new Map(e));
    const maps = fc.sample(mapArb, { numRuns: 250 * SCALE, seed: SEED });
    const oneStyle = maps.map((m) => formatContextSh(m, { header: 'Context variables generated by OpenNebula' }));
    const mixed = fc.sample(fileArb, { numRuns: 500 * SCALE, seed: SEED + 1 }).map(renderFile);

    const results = bashSourceMany([...oneStyle, ...mixed]);
    checkAgainstBash(oneStyle, results.slice(0, oneStyle.length), 'OpenNebula-style file');
    checkAgainstBash(mixed, results.slice(oneStyle.length), 'mixed-style file');
    // OpenNebula-style files also give back the map they were written from, in order.
    maps.forEach((m, i) => expect([...parseContextSh(oneStyle[i] as string, 'context.sh')]).toEqual([...m]));
  });

  it('agrees with bash on whatever random shell-like text it accepts', () => {
    // Only texts the parser accepts are given to bash: by the parser's own rules
    // they are plain assignments, so bash runs nothing.
    const alphabet = ['A', 'b', '_b', '1', '=', '+', "'", '"', '\\', '$', '{', '}', ';', '#', '~', ':', '\n', ' ', '\t', 'é', '\x01', '\x7f', 'export ', "$'", '\\n', '\\x4'];
    const garbage = fc.sample(
      fc.array(fc.constantFrom(...alphabet), { maxLength: 24 }).map((a) => a.join('')),
      { numRuns: 3000 * SCALE, seed: SEED + 2 },
    );
    const accepted = garbage.filter((t) => {
      try {
        parseContextSh(t, 'x');
        return true;
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        return false;
      }
    });
    expect(accepted.length).toBeGreaterThan(200);
    checkAgainstBash(accepted, bashSourceMany(accepted), 'accepted random text');
  });
});

describe('context.sh parser properties', () => {
  it('parseContextSh(formatContextSh(m)) equals m for arbitrary maps', () => {
    const valueArb = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
    const keyAnyArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(keyAnyArb, valueArb), { maxLength: 12 }), (entries) => {
        const m = new Map(entries);
        expect([...parseContextSh(formatContextSh(m), 'context.sh')]).toEqual([...m]);
      }),
      { numRuns: 500, seed: SEED },
    );
  });

  it('never throws anything but ParseError, and lenient mode never throws', () => {
    const chars = fc.constantFrom(..."Ab_1=+'\"\\$`{}()[];|&<>#~:\n \t!*?-@".split(''), 'export ', 'if ', 'fi', '<<E\n', 'E\n', '$(', "$'");
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 40 }).map((a) => a.join('')), (text) => {
        const lenient = parseContextShLenient(text, 'x');
        expect(lenient.errors.every((e) => e instanceof ParseError && e.line !== undefined)).toBe(true);
        let strict: ReadonlyMap<string, string> | undefined;
        try {
          strict = parseContextSh(text, 'x');
        } catch (err) {
          expect(err).toBeInstanceOf(ParseError);
          expect(lenient.errors.length).toBeGreaterThan(0);
        }
        if (strict !== undefined) {
          expect(lenient.errors).toEqual([]);
          expect([...lenient.vars]).toEqual([...strict]);
        }
      }),
      { numRuns: 2000, seed: SEED },
    );
  });
});
