// cloud-config YAML is read as YAML 1.1, the way cloud-init's PyYAML reads it.
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/errors';
import { loadYaml11 } from '../../src/userdata/yaml11';

const scalar = (text: string): unknown => (loadYaml11(`v: ${text}\n`, 'ud') as { v: unknown }).v;

describe('loadYaml11', () => {
  it('reads YAML 1.1 booleans, but not y/n', () => {
    for (const t of ['yes', 'Yes', 'YES', 'on', 'ON', 'true', 'True']) expect(scalar(t), t).toBe(true);
    for (const f of ['no', 'No', 'off', 'Off', 'false', 'FALSE']) expect(scalar(f), f).toBe(false);
    expect(scalar('y')).toBe('y');
    expect(scalar('n')).toBe('n');
    expect(scalar('"yes"')).toBe('yes');
  });
  it('reads YAML 1.1 integers: octal 0644, hex, binary, underscores, base 60', () => {
    expect(scalar('0644')).toBe(0o644);
    expect(scalar('-017')).toBe(-15);
    expect(scalar('0x1F')).toBe(31);
    expect(scalar('0b101')).toBe(5);
    expect(scalar('1_000')).toBe(1000);
    expect(scalar('0')).toBe(0);
    expect(scalar('1:30')).toBe(90);
    expect(scalar("'0644'")).toBe('0644');
    // not integers in YAML 1.1: PyYAML keeps them as strings
    expect(scalar('0o644')).toBe('0o644');
    expect(scalar('09')).toBe('09');
  });
  it('reads YAML 1.1 floats (a dot is required, exponent needs a sign)', () => {
    expect(scalar('1.5')).toBe(1.5);
    expect(scalar('1.5e+3')).toBe(1500);
    expect(scalar('1e3')).toBe('1e3');
    expect(scalar('.inf')).toBe(Infinity);
    expect(scalar('-.inf')).toBe(-Infinity);
    expect(Number.isNaN(scalar('.NaN'))).toBe(true);
    expect(scalar('1:30.5')).toBe(90.5);
  });
  it('reads nulls and keeps timestamps as strings', () => {
    expect(scalar('~')).toBeNull();
    expect(scalar('null')).toBeNull();
    expect(loadYaml11('v:\n', 'ud')).toEqual({ v: null });
    expect(scalar('2001-12-14t21:59:43.10-05:00')).toBe('2001-12-14t21:59:43.10-05:00');
  });
  it('supports anchors, aliases and merge keys; the last duplicate key wins', () => {
    expect(loadYaml11('a: &x {k: 1, j: 2}\nb:\n  <<: *x\n  j: 3\nc: 1\nc: 2\n', 'ud')).toEqual({ a: { k: 1, j: 2 }, b: { k: 1, j: 3 }, c: 2 });
  });
  it('strips a byte order mark', () => {
    expect(loadYaml11('\uFEFF#cloud-config\na: 1\n', 'ud')).toEqual({ a: 1 });
  });
  it('reports syntax errors with the origin and the 1-based line', () => {
    let err: unknown;
    try {
      loadYaml11('#cloud-config\na: 1\nb: [unclosed\nc: 2\n', 'user-data, MIME part 2 (x.yaml)');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    const pe = err as ParseError;
    expect(pe.line).toBeGreaterThanOrEqual(4);
    expect(pe.source).toBe(`user-data, MIME part 2 (x.yaml):${pe.line}`);
    expect(pe.message).toMatch(/^invalid YAML: /);
  });
  it('refuses tags it does not know (no JS types, no binary)', () => {
    expect(() => loadYaml11('a: !!js/function "x"\n', 'ud')).toThrow(ParseError);
    expect(() => loadYaml11('a: !!binary aGk=\n', 'ud')).toThrow(ParseError);
  });
});
