// The fuzzer's mutation engine: byte-level mutations (bit flips, interesting
// bytes and integers, insertions, deletions, duplications, splices, truncation)
// plus insertion of tokens that matter to text parsers (quotes, `$(`, `\`, NUL,
// huge numbers). No coverage feedback exists here; the worker keeps inputs that
// produce a new outcome instead, which steers the search a little.

/** A small, fast, seedable PRNG (xorshift128+ folded to 32 bits) so a run can be replayed. */
export function makeRng(seed) {
  let s0 = (seed >>> 0) || 0x9e3779b9;
  let s1 = Math.imul(seed ^ 0x85ebca6b, 0xc2b2ae35) >>> 0 || 0x27d4eb2f;
  const next = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return (s0 + s1) >>> 0;
  };
  return {
    u32: next,
    /** Integer in [0, n). */
    int: (n) => (n <= 0 ? 0 : next() % n),
    bool: (p = 0.5) => next() / 0x100000000 < p,
    pick: (arr) => arr[next() % arr.length],
  };
}

/** Tokens every text format is sensitive to; targets add their own. */
export const GENERIC_TOKENS = [
  "'", '"', '`', '\\', '\\\n', '$(', '$((', '${', '$', '}', ')', '\0', '\n', '\r\n', '\t', ' ', '=', ';', '&', '|', '#', '*', '{', '[', ']', ':', ',',
  '-1', '0', '4294967295', '4294967296', '2147483648', '99999999999999999999999999', '1e308', 'NaN', '-0', '0x7fffffff',
  '\u00ff', '\u2028', '\ufeff', '\ud800', '\xff\xfe', '%', '%00', '../', '/..', '//', '..',
];

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x20, 0x22, 0x27, 0x24, 0x5c, 0x2f, 0x3a];
const INTERESTING_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x800, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** An offset, for binary inputs biased toward non-zero bytes (structures, not padding). */
function offset(rng, buf, binary) {
  const at = rng.int(buf.length);
  if (!binary || rng.bool(0.3)) return at;
  for (let i = at; i < buf.length; i++) if (buf[i] !== 0) return i;
  return at;
}

function insert(buf, at, bytes) {
  return Buffer.concat([buf.subarray(0, at), bytes, buf.subarray(at)]);
}

/** One mutation of `buf`; `other` is another corpus entry for splices. */
function mutateOnce(rng, buf, other, tokens, binary, maxLen) {
  const len = buf.length;
  const op = rng.int(14);
  if (len === 0 && op < 12) return Buffer.from(rng.pick(tokens), 'latin1');
  switch (op) {
    case 0: {
      const out = Buffer.from(buf);
      const at = offset(rng, out, binary);
      out[at] ^= 1 << rng.int(8);
      return out;
    }
    case 1: {
      const out = Buffer.from(buf);
      out[offset(rng, out, binary)] = rng.int(256);
      return out;
    }
    case 2: {
      const out = Buffer.from(buf);
      out[offset(rng, out, binary)] = rng.pick(INTERESTING_BYTES);
      return out;
    }
    case 3: {
      const at = rng.int(len);
      const n = 1 + rng.int(Math.min(len - at, rng.bool(0.8) ? 8 : 512));
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + n)]);
    }
    case 4: {
      const n = 1 + rng.int(rng.bool(0.9) ? 8 : 64);
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = rng.int(256);
      return insert(buf, rng.int(len + 1), bytes);
    }
    case 5:
    case 6: {
      // A token, at a random place or at the start of a line (where statements begin).
      const tok = Buffer.from(rng.pick(tokens), 'utf8');
      let at = rng.int(len + 1);
      if (!binary && rng.bool(0.4)) {
        const nl = buf.lastIndexOf(0x0a, at - 1);
        at = nl + 1;
      }
      return insert(buf, at, tok);
    }
    case 7: {
      const from = rng.int(len);
      const n = 1 + rng.int(Math.min(len - from, 256));
      return insert(buf, rng.int(len + 1), Buffer.from(buf.subarray(from, from + n)));
    }
    case 8: {
      const a = rng.int(len + 1);
      const b = rng.int(other.length + 1);
      return Buffer.concat([buf.subarray(0, a), other.subarray(b)]);
    }
    case 9:
      return buf.subarray(0, rng.int(len));
    case 10: {
      if (len < 4) return buf;
      const out = Buffer.from(buf);
      const at = Math.min(offset(rng, out, binary), len - 4);
      let v = rng.pick(INTERESTING_U32);
      if (rng.bool(0.2)) v = (v + rng.int(5) - 2) >>> 0;
      if (rng.bool(0.5)) out.writeUInt32LE(v, at);
      else out.writeUInt32BE(v, at);
      if (rng.bool(0.3) && at + 8 <= len) out.writeUInt32BE(v, at + 4); // ISO9660 both-endian fields
      return out;
    }
    case 11: {
      if (len < 2) return buf;
      const out = Buffer.from(buf);
      const at = Math.min(offset(rng, out, binary), len - 2);
      const v = rng.pick(INTERESTING_U32) & 0xffff;
      if (rng.bool(0.5)) out.writeUInt16LE(v, at);
      else out.writeUInt16BE(v, at);
      return out;
    }
    case 12: {
      // Repeat a chunk many times: long lines, deep nesting, big counts.
      const from = rng.int(Math.max(1, len));
      const n = 1 + rng.int(Math.min(Math.max(1, len - from), 16));
      const chunk = len === 0 ? Buffer.from(rng.pick(tokens)) : buf.subarray(from, from + n);
      const times = 2 + rng.int(rng.bool(0.8) ? 64 : 4096);
      const rep = Buffer.alloc(Math.min(chunk.length * times, Math.max(0, maxLen - len)));
      for (let i = 0; i < rep.length; i++) rep[i] = chunk[i % chunk.length];
      return insert(buf, rng.int(len + 1), rep);
    }
    default: {
      // Swap two lines (text) or two sectors' worth of bytes (binary).
      if (len < 4) return buf;
      const a = rng.int(len);
      const b = rng.int(len);
      const n = 1 + rng.int(Math.min(len - Math.max(a, b), binary ? 64 : 40));
      const out = Buffer.from(buf);
      buf.copy(out, a, b, b + n);
      buf.copy(out, b, a, a + n);
      return out;
    }
  }
}

/** A new input from the corpus: 1 to 4 stacked mutations usually, up to 16 sometimes. */
export function mutate(rng, corpus, tokens, { binary = false, maxLen = 1 << 20 } = {}) {
  let buf = rng.pick(corpus);
  const rounds = 1 + rng.int(rng.bool(0.85) ? 4 : 16);
  for (let i = 0; i < rounds; i++) buf = mutateOnce(rng, buf, rng.pick(corpus), tokens, binary, maxLen);
  return buf.length > maxLen ? buf.subarray(0, maxLen) : buf;
}
