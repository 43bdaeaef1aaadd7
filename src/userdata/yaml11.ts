// YAML for cloud-config, read the way cloud-init's PyYAML (YAML 1.1) reads it, with js-yaml.
// The differences matter for real configs: `permissions: 0644` is the octal mode 420 (not
// 644), `ssh_pwauth: yes` is true, `1_000` is 1000. Dates stay strings (the result must
// be JSON-like) and duplicate keys keep the last value, as PyYAML does.
import { FAILSAFE_SCHEMA, Type, load, type YAMLException } from 'js-yaml';
import { ParseError } from '../errors';

const NULL_RE = /^(?:~|null|Null|NULL|)$/;
const BOOL_TRUE = new Set(['yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const BOOL_FALSE = new Set(['no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
// YAML 1.1 integers: binary, octal with a leading 0, decimal, hex, and base 60 (1:30 = 90).
const INT_RE = /^(?:[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
// YAML 1.1 floats need a dot (1e3 stays a string) and an explicit exponent sign.
const FLOAT_RE =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

function base60(digits: string): number {
  return digits.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

function constructInt(text: string): number {
  let s = text.replace(/_/g, '');
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s.startsWith('0b')) return sign * parseInt(s.slice(2), 2);
  if (s.startsWith('0x')) return sign * parseInt(s.slice(2), 16);
  if (s.includes(':')) return sign * base60(s);
  if (s.startsWith('0')) return sign * parseInt(s.slice(1), 8);
  return sign * parseInt(s, 10);
}

function constructFloat(text: string): number {
  let s = text.replace(/_/g, '').toLowerCase();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '.inf') return sign * Infinity;
  if (s === '.nan') return NaN;
  if (s.includes(':')) {
    const [whole = '', frac = ''] = s.split('.');
    return sign * (base60(whole) + Number(`0.${frac || '0'}`));
  }
  return sign * Number(s);
}

const nullType = new Type('tag:yaml.org,2002:null', {
  kind: 'scalar',
  resolve: (data: string | null) => data === null || NULL_RE.test(data),
  construct: () => null,
});
const boolType = new Type('tag:yaml.org,2002:bool', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && (BOOL_TRUE.has(data) || BOOL_FALSE.has(data)),
  construct: (data: string) => BOOL_TRUE.has(data),
});
const intType = new Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && INT_RE.test(data),
  construct: constructInt,
});
const floatType = new Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && FLOAT_RE.test(data),
  construct: constructFloat,
});
// js-yaml recognises the merge key by this tag; `<<: *anchor` is common in larger configs.
const mergeType = new Type('tag:yaml.org,2002:merge', {
  kind: 'scalar',
  resolve: (data: string | null) => data === '<<' || data === null,
});

/** FAILSAFE (str/seq/map) plus YAML 1.1 scalars; no timestamps, no binary, no JS types. */
export const YAML11_SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: [nullType, boolType, intType, floatType, mergeType] });

/**
 * Parse YAML text as cloud-init would. A syntax error becomes a ParseError naming the
 * origin and the 1-based line.
 */
export function loadYaml11(text: string, origin: string): unknown {
  try {
    // json: true keeps the last of duplicate keys instead of failing, like PyYAML.
    return load(text.replace(/^\uFEFF/, ''), { schema: YAML11_SCHEMA, json: true, filename: origin });
  } catch (err) {
    const ye = err as YAMLException;
    const line = typeof ye.mark?.line === 'number' ? ye.mark.line + 1 : undefined;
    throw new ParseError(origin, `invalid YAML: ${ye.reason ?? (err as Error).message}`, { cause: err, line });
  }
}
