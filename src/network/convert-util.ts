// Shared checks for the converters: every helper takes the key path of the value
// it checks so the ConfigError it throws tells the user exactly which key is wrong.
import { ConfigError } from '../errors';
import {
  type Family,
  maskToPrefix,
  networkAddress,
  normalizeMac,
  parseCidr,
  parseIp,
  formatIp,
} from './address';
import type { ConvertContext, Route, StaticAddress } from './model';

/** Builds key names for errors, prefixed with the context's origin. */
export class Keys {
  constructor(private readonly ctx: ConvertContext | undefined) {}
  key(path: string): string {
    return this.ctx?.origin ? `${this.ctx.origin}: ${path}` : path;
  }
  error(path: string, message: string, cause?: unknown): ConfigError {
    return new ConfigError(this.key(path), message, cause === undefined ? undefined : { cause });
  }
}

export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asRecord(k: Keys, path: string, v: unknown): Record<string, unknown> {
  if (!isRecord(v)) throw k.error(path, `expected a mapping, got ${describeValue(v)}`);
  return v;
}

export function asArray(k: Keys, path: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw k.error(path, `expected a list, got ${describeValue(v)}`);
  return v;
}

export function optArray(k: Keys, path: string, v: unknown): unknown[] {
  return v === undefined || v === null ? [] : asArray(k, path, v);
}

export function asString(k: Keys, path: string, v: unknown): string {
  if (typeof v === 'string') return v;
  // YAML/JSON numbers are fine where a string is expected (vlan ids written as text, etc.).
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw k.error(path, `expected a string, got ${describeValue(v)}`);
}

export function optString(k: Keys, path: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = asString(k, path, v);
  return s === '' ? undefined : s;
}

/** A list of strings, also accepting one string with space/comma separated items. */
export function stringList(k: Keys, path: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return v.split(/[\s,]+/).filter((s) => s !== '');
  return asArray(k, path, v).map((item, i) => asString(k, `${path}[${i}]`, item));
}

export function asBool(k: Keys, path: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(t)) return true;
    if (['false', 'no', 'off', '0'].includes(t)) return false;
  }
  throw k.error(path, `expected true or false, got ${describeValue(v)}`);
}

export function optBool(k: Keys, path: string, v: unknown): boolean | undefined {
  return v === undefined || v === null ? undefined : asBool(k, path, v);
}

export function asInt(k: Keys, path: string, v: unknown, min: number, max: number, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw k.error(path, `${describeValue(v)} is not a valid ${what} (${min}-${max})`);
  }
  return n;
}

export function optInt(k: Keys, path: string, v: unknown, min: number, max: number, what: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return asInt(k, path, v, min, max, what);
}

export const optMtu = (k: Keys, path: string, v: unknown): number | undefined =>
  optInt(k, path, v, 68, 65535, 'MTU');
export const optMetric = (k: Keys, path: string, v: unknown): number | undefined =>
  optInt(k, path, v, 0, 4294967295, 'metric');

export function asMac(k: Keys, path: string, v: unknown): string {
  const s = asString(k, path, v);
  const mac = normalizeMac(s);
  if (mac === undefined) throw k.error(path, `${s} is not a valid MAC address`);
  return mac;
}

/** One IP address of the given family (or either), canonical. */
export function asIp(k: Keys, path: string, v: unknown, family?: Family): string {
  const s = asString(k, path, v).trim();
  const addr = parseIp(s);
  if (addr === undefined || (family !== undefined && addr.family !== family)) {
    const what = family === undefined ? 'IP' : `IPv${family}`;
    throw k.error(path, `${s} is not a valid ${what} address`);
  }
  return formatIp(addr);
}

/** A netmask (dotted IPv4 or IPv6 text) or a bare prefix length, as a prefix length. */
export function asMaskOrPrefix(k: Keys, path: string, v: unknown, family: Family): number {
  const s = asString(k, path, v).trim();
  if (/^[0-9]{1,3}$/.test(s)) {
    const n = Number(s);
    if (n <= (family === 4 ? 32 : 128)) return n;
    throw k.error(path, `${s} is not a valid prefix length`);
  }
  const addr = parseIp(s);
  const prefix = addr !== undefined && addr.family === family ? maskToPrefix(s) : undefined;
  if (prefix === undefined) throw k.error(path, `${s} is not a valid netmask`);
  return prefix;
}

/** "addr/prefix" or a bare address with a prefix given elsewhere. */
export function asStaticAddress(
  k: Keys,
  path: string,
  v: unknown,
  fallbackPrefix?: (f: Family) => number | undefined,
  family?: Family,
): StaticAddress {
  const s = asString(k, path, v).trim();
  const cidr = parseCidr(s, (f) => fallbackPrefix?.(f) ?? -1);
  if (cidr === undefined || cidr.prefix < 0 || (family !== undefined && cidr.family !== family)) {
    const hasSlash = s.includes('/');
    if (!hasSlash && parseIp(s) !== undefined && (family === undefined || parseIp(s)?.family === family)) {
      throw k.error(path, `${s} has no prefix length`);
    }
    throw k.error(path, `${s} is not a valid ${family === undefined ? 'IP' : `IPv${family}`} address`);
  }
  return { address: cidr.address, prefix: cidr.prefix, key: k.key(path) };
}

/** A route destination: CIDR, "default", or a bare address (a host route). Returns canonical network/prefix. */
export function asDestination(k: Keys, path: string, v: unknown, family?: Family): { to: string; family: Family } {
  const s = asString(k, path, v).trim();
  if (s === 'default') {
    const f = family ?? 4;
    return { to: f === 4 ? '0.0.0.0/0' : '::/0', family: f };
  }
  const cidr = parseCidr(s, (f) => (f === 4 ? 32 : 128));
  if (cidr === undefined || (family !== undefined && cidr.family !== family)) {
    throw k.error(path, `${s} is not a valid route destination`);
  }
  return { to: `${networkAddress(cidr.address, cidr.prefix)}/${cidr.prefix}`, family: cidr.family };
}

export function familyOfRoute(r: Route): Family {
  return r.to.includes(':') ? 6 : 4;
}

export function isDefaultRoute(r: Route): boolean {
  return r.to === '0.0.0.0/0' || r.to === '::/0';
}
