// Positions of keys and items in YAML text, recovered from js-yaml's listener.
import { describe, expect, it } from 'vitest';
import { lineOf, loadYamlWithPositions, nodeAt } from '../../src/config/yaml-positions';

const TEXT = [
  '#cloud-config', //                 1
  'a: 1', //                          2
  'list:', //                         3
  '  - x', //                         4
  '  -', //                           5
  '    y', //                         6
  '  - {k: 0644, "q k": v}', //       7
  '  - [p, q]', //                    8
  'nested:', //                       9
  '  # comment', //                   10
  '  inner:', //                      11
  '    deep: |', //                   12
  '      text', //                    13
  'anchor: &x {z: 1}', //             14
  'alias: *x', //                     15
  'merged:', //                       16
  '  <<: *x', //                      17
  '  own: 2', //                      18
  '',
].join('\n');

describe('loadYamlWithPositions', () => {
  const { value, root } = loadYamlWithPositions(TEXT);

  it('loads the same value as js-yaml', () => {
    expect(value).toEqual({
      a: 1,
      list: ['x', 'y', { k: 644, 'q k': 'v' }, ['p', 'q']],
      nested: { inner: { deep: 'text\n' } },
      anchor: { z: 1 },
      alias: { z: 1 },
      merged: { z: 1, own: 2 },
    });
  });

  it.each([
    [['a'], 2],
    [['list'], 3],
    [['list', 0], 4],
    [['list', 1], 6],
    [['list', 2], 7],
    [['list', 2, 'q k'], 7],
    [['list', 3, 1], 8],
    [['nested', 'inner'], 11],
    [['nested', 'inner', 'deep'], 12],
    [['alias', 'z'], 15],
    [['merged', 'z'], 16],
    [['merged', 'own'], 18],
  ] as const)('line of %j is %i', (path, line) => {
    expect(lineOf(root, path)).toBe(line);
  });

  it('starts the root at its first content line', () => {
    expect(lineOf(root, [])).toBe(2);
    expect(lineOf(root, ['missing', 'x'])).toBe(2);
  });

  it('keeps the source text of scalars', () => {
    expect(nodeAt(root, ['list', 2, 'k'])?.raw).toBe('0644');
    expect(nodeAt(root, ['a'])?.raw).toBe('1');
  });

  it('reports duplicate keys with the line of the later one', () => {
    const r = loadYamlWithPositions('a: 1\nb:\n  c: 1\n  c: 2\na: 3\n');
    expect(r.value).toEqual({ a: 3, b: { c: 2 } });
    expect(r.duplicates).toEqual([
      { path: ['b', 'c'], line: 4 },
      { path: ['a'], line: 5 },
    ]);
  });

  it('throws js-yaml errors on bad syntax', () => {
    expect(() => loadYamlWithPositions('a: [1, 2\n')).toThrow();
  });
});
