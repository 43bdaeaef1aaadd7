// merge_how semantics, one rule per case, as cloud-init's merging documentation describes them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { mergeCloudConfig, parseMergeHow, PART_MERGE_DEFAULT, SOURCE_MERGE_DEFAULT } from '../../src/userdata/merge';

describe('parseMergeHow', () => {
  it('reads the string form, normalising case, dashes and spaces', () => {
    const specs = parseMergeHow(' List(Append) + dict(recurse-array, no_replace)+str() ');
    expect(specs.map((s) => [s.name, [...s.options]])).toEqual([
      ['list', ['append']],
      ['dict', ['recurse_array', 'no_replace']],
      ['str', []],
    ]);
  });
  it('reads the list form with {name, settings} and [name, ...options]', () => {
    const specs = parseMergeHow([{ name: 'list', settings: ['prepend'] }, ['dict', 'replace']]);
    expect(specs.map((s) => [s.name, [...s.options]])).toEqual([
      ['list', ['prepend']],
      ['dict', ['replace']],
    ]);
  });
  it('rejects malformed specs and unknown mergers with ConfigError', () => {
    expect(() => parseMergeHow('list(append')).toThrow(ConfigError);
    expect(() => parseMergeHow('int()')).toThrow(/unknown merger "int"/);
    expect(() => parseMergeHow([{ settings: [] }])).toThrow(/needs a string "name"/);
    expect(() => parseMergeHow(42)).toThrow(/must be a string or a list/);
  });
});

describe('mergeCloudConfig', () => {
  it('defaults to dict(replace): later top-level keys replace whole values', () => {
    expect(mergeCloudConfig({ a: { x: 1 }, l: [1, 2], k: 1 }, { a: { y: 2 }, l: [3] })).toEqual({ a: { y: 2 }, l: [3], k: 1 });
    expect(PART_MERGE_DEFAULT).toBe('dict(replace)+list()+str()');
  });
  it('dict(no_replace) keeps existing scalars and lists, adds new keys, recurses into dicts', () => {
    const out = mergeCloudConfig({ a: 1, l: [1], d: { x: 1 } }, { a: 2, l: [2], d: { x: 9, y: 2 }, n: 3 }, 'dict(no_replace)+list()');
    expect(out).toEqual({ a: 1, l: [1], d: { x: 1, y: 2 }, n: 3 });
  });
  it('recurse_array / recurse_list hand lists to the list merger', () => {
    expect(mergeCloudConfig({ l: [1] }, { l: [2] }, 'dict(no_replace,recurse_array)+list(append)')).toEqual({ l: [1, 2] });
    expect(mergeCloudConfig({ l: [1] }, { l: [2] }, 'dict(no_replace,recurse_list)+list(prepend)')).toEqual({ l: [2, 1] });
  });
  it('list() replaces index by index and keeps the old length, as cloud-init does', () => {
    expect(mergeCloudConfig({ l: [1, 2, 3] }, { l: [9] }, 'dict(recurse_list)+list()')).toEqual({ l: [9, 2, 3] });
    expect(mergeCloudConfig({ l: [1] }, { l: [8, 9] }, 'dict(recurse_list)+list(replace)')).toEqual({ l: [8] });
    expect(mergeCloudConfig({ l: [1, 2] }, { l: [8, 9] }, 'dict(recurse_list)+list(no_replace)')).toEqual({ l: [1, 2] });
  });
  it('list recurse_dict merges dicts at the same index', () => {
    const out = mergeCloudConfig({ u: [{ name: 'a', g: 1 }] }, { u: [{ g: 2, s: 1 }] }, 'dict(recurse_list)+list(recurse_dict)');
    // the inner dict merge uses the same dict(no_replace) merger: existing g stays
    expect(out).toEqual({ u: [{ name: 'a', g: 1, s: 1 }] });
  });
  it('str(append) concatenates only with recurse_str', () => {
    expect(mergeCloudConfig({ s: 'a' }, { s: 'b' }, 'dict(recurse_str)+str(append)')).toEqual({ s: 'ab' });
    expect(mergeCloudConfig({ s: 'a' }, { s: 'b' }, 'dict()+str(append)')).toEqual({ s: 'a' });
    expect(mergeCloudConfig({ s: 'a' }, { s: 'b' }, 'dict(recurse_str)+str()')).toEqual({ s: 'b' });
  });
  it('allow_delete removes keys set to null', () => {
    expect(mergeCloudConfig({ a: 1, b: 2 }, { a: null }, 'dict(no_replace,allow_delete)')).toEqual({ b: 2 });
    expect(mergeCloudConfig({ a: 1 }, { a: null }, 'dict(no_replace)')).toEqual({ a: 1 });
  });
  it('takes merge_how / merge_type from the new config and never keeps it', () => {
    expect(mergeCloudConfig({ l: [1] }, { merge_how: 'dict(recurse_array)+list(append)', l: [2] })).toEqual({ l: [1, 2] });
    expect(mergeCloudConfig({ l: [1] }, { merge_type: [{ name: 'dict', settings: ['replace'] }], l: [2] })).toEqual({ l: [2] });
  });
  it('a spec without a dict merger changes nothing', () => {
    expect(mergeCloudConfig({ a: 1 }, { b: 2 }, 'list(append)')).toEqual({ a: 1 });
  });
  it('source priority: the first source keeps its keys, nested mappings merge', () => {
    const user = { hostname: 'u', runcmd: ['u'], ntp: { servers: ['u'] } };
    const vendor = { hostname: 'v', runcmd: ['v'], ntp: { enabled: true, servers: ['v'] }, apt: { proxy: 'p' } };
    expect(mergeCloudConfig(user, vendor, SOURCE_MERGE_DEFAULT)).toEqual({
      hostname: 'u',
      runcmd: ['u'],
      ntp: { servers: ['u'], enabled: true },
      apt: { proxy: 'p' },
    });
  });
  it('treats "__proto__" as a plain key and never touches prototypes', () => {
    const evil = JSON.parse('{"__proto__": {"polluted": true}, "a": {"__proto__": {"x": 1}}}') as Record<string, unknown>;
    const out = mergeCloudConfig({ a: {} }, evil, 'dict(no_replace)');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.keys(out).sort()).toEqual(['__proto__', 'a']);
  });
  it('never modifies its inputs (property)', () => {
    const value = fc.jsonValue({ maxDepth: 3 });
    const dict = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'l'), value, { maxKeys: 4 });
    const how = fc.constantFrom(
      PART_MERGE_DEFAULT,
      SOURCE_MERGE_DEFAULT,
      'list(append)+dict(recurse_array,no_replace)+str(append)',
      'dict(no_replace,recurse_list,recurse_str,allow_delete)+list(recurse_dict,recurse_array)+str(append)',
    );
    fc.assert(
      fc.property(dict, dict, how, (a, b, h) => {
        const sa = JSON.stringify(a);
        const sb = JSON.stringify(b);
        const out = mergeCloudConfig(a, b, h);
        expect(JSON.stringify(a)).toBe(sa);
        expect(JSON.stringify(b)).toBe(sb);
        expect(typeof out).toBe('object');
      }),
      { numRuns: 300 },
    );
  });
});
