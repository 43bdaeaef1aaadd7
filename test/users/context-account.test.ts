// The OpenNebula USERNAME_* / *PASSWORD* variables, read as one-context does.
import { describe, expect, it } from 'vitest';
import { contextAccount } from '../../src/users/context-account';
import { nameProblem } from '../../src/users/names';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const acct = (vars: Record<string, string>) => contextAccount(new Map(Object.entries(vars)));

describe('contextAccount', () => {
  it('defaults: root, /bin/bash, no sudo for root, no reset', () => {
    expect(acct({})).toEqual({ user: 'root', shell: '/bin/bash', sudo: false, passwordReset: false, problems: [] });
  });

  it.each([
    [{ USERNAME: 'alice' }, true],
    [{ USERNAME: 'alice', USERNAME_SUDO: 'no' }, false],
    [{ USERNAME: 'alice', GRANT_SUDO: 'NO' }, false],
    [{ USERNAME: 'alice', GRANT_SUDO: 'NO', USERNAME_SUDO: 'yes' }, true],
    [{ USERNAME: 'alice', USERNAME_SUDO: '' }, true],
  ])('sudo for %j is %s', (vars, sudo) => {
    expect(acct(vars).sudo).toBe(sudo);
  });

  it.each([
    ['CRYPTED_PASSWORD_BASE64 wins', { CRYPTED_PASSWORD_BASE64: b64('$6$a$b'), PASSWORD_BASE64: b64('x'), CRYPTED_PASSWORD: '$6$c$d', PASSWORD: 'y' }, { kind: 'hash', hash: '$6$a$b', origin: 'context CRYPTED_PASSWORD_BASE64' }],
    ['then PASSWORD_BASE64 (trailing newline dropped like $(...))', { PASSWORD_BASE64: b64('pw with space\n'), CRYPTED_PASSWORD: '$6$c$d', PASSWORD: 'y' }, { kind: 'text', text: 'pw with space', origin: 'context PASSWORD_BASE64' }],
    ['then CRYPTED_PASSWORD', { CRYPTED_PASSWORD: '$6$c$d', PASSWORD: 'y' }, { kind: 'hash', hash: '$6$c$d', origin: 'context CRYPTED_PASSWORD' }],
    ['then PASSWORD', { PASSWORD: 'y' }, { kind: 'text', text: 'y', origin: 'context PASSWORD' }],
    ['empty values are unset', { CRYPTED_PASSWORD_BASE64: '', PASSWORD: 'y' }, { kind: 'text', text: 'y', origin: 'context PASSWORD' }],
  ])('%s', (_n, vars, password) => {
    expect(acct(vars).password).toEqual(password);
  });

  it('a bad value is a problem naming the key, with no password', () => {
    const a = acct({ PASSWORD_BASE64: 'not base64!', PASSWORD: 'fallback' });
    expect(a.password).toBeUndefined();
    expect(a.problems.map((p) => p.describe())).toEqual(['context PASSWORD_BASE64: is not valid base64; no password was set']);
    expect(acct({ CRYPTED_PASSWORD: '$6$a:b' }).problems[0]?.source).toBe('context CRYPTED_PASSWORD');
  });

  it('USERNAME_PASSWORD_RESET and USERNAME_SHELL', () => {
    expect(acct({ USERNAME_PASSWORD_RESET: 'yes', USERNAME_SHELL: '/bin/zsh' })).toMatchObject({ passwordReset: true, shell: '/bin/zsh' });
    expect(acct({ USERNAME_SHELL: '/bin/sh:x' }).problems[0]?.source).toBe('context USERNAME_SHELL');
  });

  it('an invalid USERNAME throws naming the key', () => {
    expect(() => acct({ USERNAME: 'Bad Name' })).toThrow(/is not a valid name/);
  });
});

describe('nameProblem', () => {
  it.each([
    ['debian', undefined],
    ['_svc', undefined],
    ['machine$', undefined],
    ['a-b_c9', undefined],
    ['Bob', 'not a valid name'],
    ['9lives', 'not a valid name'],
    ['-rf', 'not a valid name'],
    ['a'.repeat(33), 'more than 32'],
    ['', 'empty'],
    ['bob;id', 'not a valid name'],
  ])('%j', (name, problem) => {
    const p = nameProblem(name);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
  });
});
