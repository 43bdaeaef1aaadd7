// JSON Patch (RFC 6902) and JSON Pointer (RFC 6901) behaviour, including the error cases
// the RFC requires to fail and the atomicity of a whole patch.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/errors';
import { applyJsonPatch, parsePointer } from '../../src/userdata/json-patch';

const apply = (doc: unknown, patch: unknown): unknown => applyJsonPatch(doc, patch, 'p');

describe('JSON pointer', () => {
  it('unescapes ~1 before ~0', () => {
    expect(parsePointer('')).toEqual([]);
    expect(parsePointer('/a~1b/m~0n/~01')).toEqual(['a/b', 'm~n', '~1']);
    expect(parsePointer('/')).toEqual(['']);
  });
});

describe('applyJsonPatch', () => {
  it('adds object members and array elements (index and "-")', () => {
    expect(apply({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }])).toEqual({ foo: 'bar', baz: 'qux' });
    expect(apply({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({ foo: ['bar', 'qux', 'baz'] });
    expect(apply({ foo: [1] }, [{ op: 'add', path: '/foo/-', value: [2] }])).toEqual({ foo: [1, [2]] });
    expect(apply({ foo: [1] }, [{ op: 'add', path: '/foo/1', value: 2 }])).toEqual({ foo: [1, 2] });
  });
  it('replaces the whole document with path ""', () => {
    expect(apply({ a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }])).toEqual({ b: 2 });
  });
  it('removes, replaces, moves and copies', () => {
    const doc = { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' }, l: [1, 2, 3] };
    expect(
      apply(doc, [
        { op: 'remove', path: '/l/1' },
        { op: 'replace', path: '/foo/bar', value: 'new' },
        { op: 'move', from: '/foo/waldo', path: '/qux/thud' },
        { op: 'copy', from: '/qux', path: '/copy' },
        { op: 'move', from: '/l/0', path: '/l/-' },
      ]),
    ).toEqual({ foo: { bar: 'new' }, qux: { corge: 'grault', thud: 'fred' }, copy: { corge: 'grault', thud: 'fred' }, l: [3, 1] });
    expect(doc.l).toEqual([1, 2, 3]);
  });
  it('copies by value, not by reference', () => {
    const out = apply({ a: { x: 1 } }, [
      { op: 'copy', from: '/a', path: '/b' },
      { op: 'replace', path: '/b/x', value: 2 },
    ]);
    expect(out).toEqual({ a: { x: 1 }, b: { x: 2 } });
  });
  it('test compares deeply, with key order ignored and types strict', () => {
    expect(apply({ a: { x: [1, { y: null }], z: 'q' } }, [{ op: 'test', path: '/a', value: { z: 'q', x: [1, { y: null }] } }])).toBeTruthy();
    expect(() => apply({ a: 1 }, [{ op: 'test', path: '/a', value: '1' }])).toThrow(/test failed/);
    expect(() => apply({ a: [1] }, [{ op: 'test', path: '/a', value: [1, 2] }])).toThrow(/test failed/);
  });
  it('fails on what the RFC says must fail', () => {
    const cases: Array<[unknown, unknown, RegExp]> = [
      [{}, [{ op: 'remove', path: '/missing' }], /does not exist/],
      [{}, [{ op: 'replace', path: '/missing', value: 1 }], /does not exist/],
      [{ a: [1] }, [{ op: 'add', path: '/a/5', value: 1 }], /out of range/],
      [{ a: [1] }, [{ op: 'add', path: '/a/01', value: 1 }], /not an array index/],
      [{ a: [1] }, [{ op: 'remove', path: '/a/-' }], /not an array index/],
      [{}, [{ op: 'add', path: '/a/b', value: 1 }], /does not exist/],
      [{ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }], /own child/],
      [{}, [{ op: 'add', path: 'a', value: 1 }], /must start with/],
      [{}, [{ op: 'add', path: '/a' }], /needs a "value"/],
      [{}, [{ op: 'frobnicate', path: '/a' }], /unknown op/],
      [{}, [{ op: 'copy', path: '/a' }], /"from" must be a string/],
      [{}, [{ op: 'remove', path: '/a~2' }], /invalid ~ escape/],
      [{}, { op: 'add', path: '/a', value: 1 }, /must be a list/],
    ];
    for (const [doc, patch, msg] of cases) {
      expect(() => apply(doc, patch), JSON.stringify(patch)).toThrow(msg);
      expect(() => apply(doc, patch)).toThrow(ParseError);
    }
  });
  it('is atomic: a failing operation leaves the input as it was and names the op', () => {
    const doc = { runcmd: ['a'] };
    let err: unknown;
    try {
      apply(doc, [
        { op: 'add', path: '/runcmd/-', value: 'b' },
        { op: 'remove', path: '/nope' },
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).source).toBe('p op 1');
    expect(doc).toEqual({ runcmd: ['a'] });
  });
  it('add then remove of a fresh key restores the document (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }), fc.jsonValue({ maxDepth: 2 }), (doc, value) => {
        const key = 'fresh/~key';
        const pointer = '/fresh~1~0key';
        const added = apply(doc, [{ op: 'add', path: pointer, value }]) as Record<string, unknown>;
        expect(added[key]).toEqual(value);
        expect(apply(added, [{ op: 'remove', path: pointer }])).toEqual(doc);
      }),
      { numRuns: 200 },
    );
  });
});
