// SHA-512 crypt ("$6$", Ulrich Drepper's published specification), so a
// clear-text password from the context or cloud-config is hashed inside
// guestctx and only the hash ever reaches a guest tool (chpasswd -e). Also the
// random passwords and salts, from the kernel's CSPRNG.
import { crypto } from '../host/builtins';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SALT_MAX = 16;
export const ROUNDS_DEFAULT = 5000;
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;

// The byte permutation the specification uses to encode the 64-byte digest.
const ORDER: readonly (readonly [number, number, number])[] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function sha512(...parts: Buffer[]): Buffer {
  const h = crypto().createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `length` bytes made of `digest` repeated (the P and S sequences of the specification). */
function repeatTo(digest: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let off = 0; off < length; off += digest.length) digest.copy(out, off, 0, Math.min(digest.length, length - off));
  return out;
}

function encode24(b2: number, b1: number, b0: number, chars: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = '';
  for (let i = 0; i < chars; i++) {
    s += ITOA64[w & 0x3f];
    w >>>= 6;
  }
  return s;
}

export interface CryptSetting {
  readonly salt: string;
  /** undefined: the default 5000 rounds, not written in the result. */
  readonly rounds?: number;
}

/**
 * Read the setting part of a "$6$[rounds=N$]salt[$hash]" string, as crypt(3)
 * does: the salt stops at "$" and is cut to 16 characters; rounds are clamped.
 */
export function parseSetting(setting: string): CryptSetting | undefined {
  if (!setting.startsWith('$6$')) return undefined;
  let rest = setting.slice(3);
  let rounds: number | undefined;
  const m = /^rounds=(\d+)\$/.exec(rest);
  if (m?.[1] !== undefined) {
    rounds = Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, Number(m[1])));
    rest = rest.slice(m[0].length);
  }
  const end = rest.indexOf('$');
  const salt = (end === -1 ? rest : rest.slice(0, end)).slice(0, SALT_MAX);
  return { salt, ...(rounds !== undefined ? { rounds } : {}) };
}

/** The "$6$" hash of `password` with `salt` (at most 16 characters are used). */
export function sha512Crypt(password: string | Buffer, salt: string, rounds?: number): string {
  const p = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const saltText = salt.split('$')[0]?.slice(0, SALT_MAX) ?? '';
  const s = Buffer.from(saltText, 'utf8');
  const r = rounds === undefined ? ROUNDS_DEFAULT : Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, Math.floor(rounds)));

  const b = sha512(p, s, p);
  const a = crypto().createHash('sha512');
  a.update(p);
  a.update(s);
  let i = p.length;
  for (; i > 64; i -= 64) a.update(b);
  a.update(b.subarray(0, i));
  for (let n = p.length; n > 0; n >>>= 1) a.update(n & 1 ? b : p);
  const aDigest = a.digest();

  const dp = crypto().createHash('sha512');
  for (let n = 0; n < p.length; n++) dp.update(p);
  const pSeq = repeatTo(dp.digest(), p.length);

  const ds = crypto().createHash('sha512');
  for (let n = 0; n < 16 + (aDigest[0] as number); n++) ds.update(s);
  const sSeq = repeatTo(ds.digest(), s.length);

  let c = aDigest;
  for (let n = 0; n < r; n++) {
    const h = crypto().createHash('sha512');
    h.update(n & 1 ? pSeq : c);
    if (n % 3 !== 0) h.update(sSeq);
    if (n % 7 !== 0) h.update(pSeq);
    h.update(n & 1 ? c : pSeq);
    c = h.digest();
  }

  let out = '';
  for (const [x, y, z] of ORDER) out += encode24(c[x] as number, c[y] as number, c[z] as number, 4);
  out += encode24(0, 0, c[63] as number, 2);
  return `$6$${rounds !== undefined ? `rounds=${r}$` : ''}${saltText}$${out}`;
}

/** 16 random salt characters. */
export function randomSalt(): string {
  const bytes = crypto().randomBytes(SALT_MAX);
  let s = '';
  for (const b of bytes) s += ITOA64[b & 0x3f];
  return s;
}

/** Hash a clear-text password for chpasswd -e, with a fresh random salt. */
export function hashPassword(password: string): string {
  return sha512Crypt(password, randomSalt());
}

/**
 * True when `hash` is the sha512-crypt of `password` (same salt and rounds).
 * Lets a second run see that the password is already set, without the clear text
 * ever leaving this process.
 */
export function sha512Matches(password: string, hash: string): boolean {
  const setting = parseSetting(hash);
  if (setting === undefined) return false;
  return sha512Crypt(password, setting.salt, setting.rounds) === hash;
}

// cloud-init's rule for "this value is a crypt(3) hash, not a password".
const HASH_PATTERN = /^\$(1|2a|2y|5|6|y|gy|7)\$[^:\n\r]+$/;

export function looksLikeHash(value: string): boolean {
  return HASH_PATTERN.test(value) && value.split('$').length >= 4;
}

// Letters and digits without the ones people misread (l, o, L, O, I, 0, 1).
const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789';

/** A random password for "RANDOM" entries: 20 characters, uniformly chosen. */
export function randomPassword(length = 20): string {
  let s = '';
  for (let i = 0; i < length; i++) s += PASSWORD_ALPHABET[crypto().randomInt(PASSWORD_ALPHABET.length)];
  return s;
}
