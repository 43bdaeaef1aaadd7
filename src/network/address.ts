// IPv4/IPv6 address helpers written for the network model: parsing, canonical
// formatting, netmask <-> prefix conversion and subnet membership. Datasources
// hand us addresses as free text, so every parser returns undefined on anything
// it is not sure about instead of guessing (no octal, no zone ids, no shorthand).

export type Family = 4 | 6;

/** A parsed address: its family and its value as an unsigned integer. */
export interface IpAddress {
  readonly family: Family;
  readonly value: bigint;
}

/** An address with a prefix length, e.g. 10.0.0.5/24 (host bits are kept). */
export interface Cidr {
  readonly family: Family;
  readonly address: string;
  readonly prefix: number;
}

const IPV4_BITS = 32;
const IPV6_BITS = 128;

export function bitsOf(family: Family): number {
  return family === 4 ? IPV4_BITS : IPV6_BITS;
}

/** Parse dotted-quad IPv4. Leading zeros are refused: some tools read them as octal. */
export function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

/** Parse an IPv6 address (RFC 4291 text forms, including a trailing dotted IPv4). */
export function parseIPv6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45 || text.includes('%')) return undefined;
  let head = text;
  let tailWords: number[] = [];
  // An embedded IPv4 address takes the place of the last two 16-bit groups.
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailWords = [Number(v4 >> 16n), Number(v4 & 0xffffn)];
    head = text.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::", "64:ff9b::1.2.3.4" leaves "64:ff9b::", "a:b:c:d:e:f:1.2.3.4" leaves "...f:".
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0] ?? '');
  const right = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (left === undefined || right === undefined) return undefined;
  const known = left.length + right.length + tailWords.length;
  let words: number[];
  if (halves.length === 2) {
    // "::" stands for at least one zero group.
    if (known > 7) return undefined;
    words = [...left, ...new Array<number>(8 - known).fill(0), ...right, ...tailWords];
  } else {
    if (known !== 8) return undefined;
    words = [...left, ...tailWords];
  }
  let value = 0n;
  for (const w of words) value = (value << 16n) | BigInt(w);
  return value;
}

export function parseIp(text: string): IpAddress | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(text);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

export function isIPv4(text: string): boolean {
  return parseIPv4(text) !== undefined;
}

export function isIPv6(text: string): boolean {
  return parseIPv6(text) !== undefined;
}

export function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
}

/** RFC 5952 canonical text: lowercase, no leading zeros, longest zero run (>1) as "::". */
export function formatIPv6(value: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

export function formatIp(addr: IpAddress): string {
  return addr.family === 4 ? formatIPv4(addr.value) : formatIPv6(addr.value);
}

/** Canonical text of an address, or undefined if it is not one. */
export function canonicalIp(text: string): string | undefined {
  const addr = parseIp(text);
  return addr === undefined ? undefined : formatIp(addr);
}

function maskBits(family: Family, prefix: number): bigint {
  const bits = bitsOf(family);
  const all = (1n << BigInt(bits)) - 1n;
  return (all >> BigInt(bits - prefix)) << BigInt(bits - prefix) & all;
}

/** Prefix length of a contiguous netmask (IPv4 dotted or IPv6 text); undefined if not contiguous. */
export function maskToPrefix(mask: string): number | undefined {
  const addr = parseIp(mask);
  if (addr === undefined) return undefined;
  const bits = bitsOf(addr.family);
  for (let prefix = 0; prefix <= bits; prefix++) {
    if (maskBits(addr.family, prefix) === addr.value) return prefix;
  }
  return undefined;
}

export function prefixToMask(prefix: number, family: Family = 4): string {
  if (!isValidPrefix(prefix, family)) throw new RangeError(`invalid IPv${family} prefix length ${prefix}`);
  const value = maskBits(family, prefix);
  return family === 4 ? formatIPv4(value) : formatIPv6(value);
}

export function isValidPrefix(prefix: number, family: Family): boolean {
  return Number.isInteger(prefix) && prefix >= 0 && prefix <= bitsOf(family);
}

/** Parse a prefix length given as text ("24"); undefined unless a plain decimal in range. */
export function parsePrefix(text: string, family: Family): number | undefined {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(text)) return undefined;
  const n = Number(text);
  return isValidPrefix(n, family) ? n : undefined;
}

/** Parse "addr/prefix". A bare address is refused unless `defaultPrefix` is given. */
export function parseCidr(text: string, defaultPrefix?: (f: Family) => number): Cidr | undefined {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  if (addr === undefined) return undefined;
  let prefix: number | undefined;
  if (slash < 0) prefix = defaultPrefix?.(addr.family);
  else prefix = parsePrefix(text.slice(slash + 1), addr.family);
  if (prefix === undefined) return undefined;
  return { family: addr.family, address: formatIp(addr), prefix };
}

/** The network address of addr/prefix, canonical. */
export function networkAddress(address: string, prefix: number): string {
  const addr = parseIp(address);
  if (addr === undefined) throw new RangeError(`not an IP address: ${address}`);
  const net = addr.value & maskBits(addr.family, prefix);
  return formatIp({ family: addr.family, value: net });
}

/** Whether `address` lies in network/prefix (the network's host bits are ignored). Families must match. */
export function inSubnet(address: string, network: string, prefix: number): boolean {
  const a = parseIp(address);
  const n = parseIp(network);
  if (a === undefined || n === undefined || a.family !== n.family) return false;
  if (!isValidPrefix(prefix, a.family)) return false;
  const m = maskBits(a.family, prefix);
  return (a.value & m) === (n.value & m);
}

/** The IPv4 broadcast address of addr/prefix. */
export function broadcastIPv4(address: string, prefix: number): string {
  const v = parseIPv4(address);
  if (v === undefined) throw new RangeError(`not an IPv4 address: ${address}`);
  const host = (1n << BigInt(32 - prefix)) - 1n;
  return formatIPv4(v | host);
}

/** Lowercase colon-separated MAC (accepts "-" separators and any case); undefined if malformed. */
export function normalizeMac(text: string): string | undefined {
  const t = text.trim().toLowerCase().replace(/-/g, ':');
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(t) ? t : undefined;
}
