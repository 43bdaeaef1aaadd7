// The schema combinators on their own: messages, dropping rules, paths.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  INVALID,
  ValidationContext,
  bool,
  formatPath,
  int,
  listOf,
  literal,
  map,
  mapOf,
  nameList,
  oneOf,
  parsePath,
  record,
  string,
  stringish,
  type Schema,
} from '../../src/config/schema-combinators';

function run<T>(schema: Schema<T>, value: unknown) {
  const ctx = new ValidationContext();
  const out = schema.parse(value, ctx, ['k']);
  return {
    out,
    errors: ctx.errors.map((e) => `${formatPath(e.path)}: ${e.message}`),
    warnings: ctx.warnings.map((e) => `${formatPath(e.path)}: ${e.message}`),
  };
}

describe('paths', () => {
  it('formats keys, indices and keys that need quoting', () => {
    expect(formatPath(['users', 2, 'ssh_authorized_keys', 0])).toBe('users[2].ssh_authorized_keys[0]');
    expect(formatPath(['disk_setup', '/dev/vdb', 'layout'])).toBe('disk_setup["/dev/vdb"].layout');
    expect(formatPath(['lock-passwd'])).toBe('lock-passwd');
    expect(formatPath([])).toBe('');
    expect(formatPath([0, 'a b', ''])).toBe('[0]["a b"][""]');
  });

  it('parses back every path it formats', () => {
    const seg = fc.oneof(fc.string({ maxLength: 8 }), fc.nat({ max: 50 }));
    fc.assert(fc.property(fc.array(seg, { maxLength: 6 }), (path) => {
      expect(parsePath(formatPath(path))).toEqual(path);
    }), { numRuns: 500 });
  });

  it('rejects text that is not a path', () => {
    for (const bad of ['.a', 'a..b', 'a[x]', 'a[1', 'a b', '["unterminated']) expect(parsePath(bad), bad).toBeUndefined();
  });
});

describe('scalars', () => {
  it('bool accepts YAML 1.1 words, as cloud-init\'s parser produces them', () => {
    for (const w of ['yes', 'On', 'TRUE', 'true']) expect(run(bool(), w).out).toBe(true);
    for (const w of ['no', 'OFF', 'False']) expect(run(bool(), w).out).toBe(false);
    expect(run(bool(), 'y').errors).toEqual(['k: expected a boolean, got string']);
  });

  it('int reports range errors with the value and type errors with the type', () => {
    expect(run(int({ min: 0, max: 10 }), 11).errors).toEqual(['k: expected an integer from 0 to 10, got 11']);
    expect(run(int(), 1.5).errors).toEqual(['k: expected an integer, got number']);
    expect(run(int({ numericString: true }), ' 42 ').out).toBe(42);
    expect(run(int(), '42').errors).toEqual(['k: expected an integer, got string']);
  });

  it('stringish turns numbers into strings but not booleans', () => {
    expect(run(stringish(), 600).out).toBe('600');
    expect(run(stringish(), true).errors).toEqual(['k: expected a string, got boolean']);
  });
});

describe('combinators', () => {
  it('oneOf lists every alternative, flattening nested ones, and shows enum values', () => {
    const s = oneOf(literal('a', 'b'), oneOf(int(), listOf(string())));
    expect(run(s, 'c').errors).toEqual(['k: expected "a" or "b", an integer or a list of strings, got "c"']);
    expect(run(s, {}).errors).toEqual(['k: expected "a" or "b", an integer or a list of strings, got mapping']);
    expect(run(s, ['x', 1]).errors).toEqual(['k[1]: expected a string, got number']);
  });

  it('listOf drops bad items, or the whole list with allOrNothing', () => {
    expect(run(listOf(string()), ['a', 1, 'b']).out).toEqual(['a', 'b']);
    expect(run(listOf(string(), { allOrNothing: true }), ['a', 1, 'b']).out).toBe(INVALID);
    expect(run(listOf(string(), { skipNull: true }), ['a', null]).out).toEqual(['a']);
  });

  it('record keeps valid keys, warns about unknown ones, errors on a missing required key', () => {
    const s = record({ name: string(), age: int() }, { required: ['name'], aliases: { 'full-name': 'name' }, unsupported: ['nick'] });
    expect(run(s, { name: 'x', age: 'old', extra: 1, nick: 'n' })).toEqual({
      out: { name: 'x' },
      errors: ['k.age: expected an integer, got string'],
      warnings: ['k.extra: unknown key, ignored', 'k.nick: not supported by guestctx, ignored'],
    });
    expect(run(s, { age: 3 }).errors).toEqual(['k: missing required key "name"']);
    // A required key that is present but invalid has its own error, not a second one.
    expect(run(s, { name: 3 }).errors).toEqual(['k.name: expected a string, got number']);
    expect(run(s, { 'full-name': 'y' })).toMatchObject({ out: { name: 'y' }, warnings: ['k.full-name: deprecated spelling, use "name"'] });
  });

  it('record refuses lists, dates and binary as mappings', () => {
    const s = record({});
    expect(run(s, []).errors).toEqual(['k: expected a mapping, got list']);
    expect(run(s, new Date(0)).errors).toEqual(['k: expected a mapping, got date']);
    expect(run(s, new Uint8Array(1)).errors).toEqual(['k: expected a mapping, got binary']);
  });

  it('mapOf filters keys by pattern', () => {
    expect(run(mapOf(string(), { keyPattern: /^ok_/ }), { ok_a: 'x', nope: 'y' })).toEqual({
      out: { ok_a: 'x' },
      errors: [],
      warnings: ['k.nope: unknown key, ignored'],
    });
  });

  it('nameList splits comma strings and trims list items', () => {
    expect(run(nameList(), ' a, b ,,c ').out).toEqual(['a', 'b', 'c']);
    expect(run(nameList(), [' a ', '']).out).toEqual(['a']);
  });

  it('map transforms only valid values', () => {
    const s = map(int(), (n) => n * 2);
    expect(run(s, 2).out).toBe(4);
    expect(run(s, 'x').out).toBe(INVALID);
  });

  it('stops with an exception past the visit budget', () => {
    const ctx = new ValidationContext({ maxVisits: 10 });
    expect(() => listOf(string()).parse(Array.from({ length: 20 }, () => 'x'), ctx, [])).toThrow(/more than 10 values/);
  });
});
