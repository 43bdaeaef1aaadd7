// sha512-crypt against the specification's own vectors, this machine's
// `openssl passwd -6` (random passwords and salts), and Python's crypt(3)
// binding for explicit rounds.
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashPassword, looksLikeHash, parseSetting, randomPassword, randomSalt, sha512Crypt, sha512Matches } from '../../src/users/sha512-crypt';

const SALT_CHARS = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function openssl(password: string, salt: string): string {
  // -stdin keeps the password off the command line and reads one line.
  return execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n` }).toString().trim();
}

const pythonCrypt = spawnSync('python3', ['-W', 'ignore', '-c', 'import crypt'], { stdio: 'ignore' }).status === 0;

describe('sha512Crypt', () => {
  it.each([
    ['Hello world!', 'saltstring', undefined, '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
    ['Hello world!', 'saltstringsaltstring', 10000, '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
  ])('matches the specification vector for %j / %s', (pw, salt, rounds, expected) => {
    expect(sha512Crypt(pw, salt, rounds)).toBe(expected);
  });

  it('agrees with openssl passwd -6 on edge lengths', () => {
    for (const pw of ['a', 'x'.repeat(63), 'x'.repeat(64), 'x'.repeat(65), 'y'.repeat(200), 'pässwörd €', 'with space and:colon']) {
      expect(sha512Crypt(pw, 'Ab.12/zz'), JSON.stringify(pw)).toBe(openssl(pw, 'Ab.12/zz'));
    }
  });

  it('agrees with openssl passwd -6 on random passwords and salts', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }).filter((s) => !/[\n\r\0]/.test(s)),
        fc.string({ unit: fc.constantFrom(...SALT_CHARS), minLength: 1, maxLength: 16 }),
        (pw, salt) => {
          expect(sha512Crypt(pw, salt)).toBe(openssl(pw, salt));
        },
      ),
      { numRuns: 40 },
    );
  });

  // openssl prints "<NULL>" for an empty password, so crypt(3) is the oracle for it and for rounds.
  it.skipIf(!pythonCrypt)('agrees with crypt(3) on explicit rounds and the empty password', () => {
    for (const [pw, setting] of [['secret', 'rounds=1000$abc'], ['secret', 'rounds=5000$x'], ['', 'Ab.12/zz']] as const) {
      const expected = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.stdin.read(), "$6$" + sys.argv[1]))', setting], { input: pw }).toString().trim();
      const parsed = parseSetting(`$6$${setting}`);
      expect(sha512Crypt(pw, parsed?.salt ?? '', parsed?.rounds)).toBe(expected);
    }
  });

  it('clamps rounds to the specification range', () => {
    expect(parseSetting('$6$rounds=10$toolow$')).toEqual({ salt: 'toolow', rounds: 1000 });
    expect(sha512Crypt('pw', 'toolow', 10)).toBe(sha512Crypt('pw', 'toolow', 1000));
    expect(parseSetting('$5$abc$')).toBeUndefined();
  });

  it('cuts the salt at 16 characters and at "$"', () => {
    expect(sha512Crypt('pw', 'abcdefghijklmnopqrstuvwxyz')).toBe(sha512Crypt('pw', 'abcdefghijklmnop'));
    expect(sha512Crypt('pw', 'abc$def').startsWith('$6$abc$')).toBe(true);
  });
});

describe('hashing helpers', () => {
  it('hashPassword salts randomly and sha512Matches verifies', () => {
    const a = hashPassword('s3cret pass');
    const b = hashPassword('s3cret pass');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(sha512Matches('s3cret pass', a)).toBe(true);
    expect(sha512Matches('s3cret pasS', a)).toBe(false);
    expect(sha512Matches('x', '$1$abc$def')).toBe(false);
    // A hash with explicit rounds verifies with the same rounds.
    expect(sha512Matches('Hello world!', '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.')).toBe(true);
  });

  it.each([
    ['$6$salt$hash', true],
    ['$1$ab$cd', true],
    ['$y$j9T$abc$def', true],
    ['$6$only', false],
    ['password', false],
    ['$6$a$b:c', false],
  ])('looksLikeHash(%j) is %s', (v, expected) => {
    expect(looksLikeHash(v)).toBe(expected);
  });

  it('random passwords and salts use their alphabets', () => {
    const pws = Array.from({ length: 50 }, () => randomPassword());
    for (const p of pws) expect(p).toMatch(/^[a-km-zA-HJ-NP-Z2-9]{20}$/);
    expect(new Set(pws).size).toBe(50);
    expect(randomSalt()).toMatch(/^[./0-9A-Za-z]{16}$/);
  });
});
