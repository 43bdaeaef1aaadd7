// Helpers shared by the local-media datasources (config drive, NoCloud,
// StratusLab, HEPiX): opening the medium a detection pointed at, peeking at a
// labelled device during detection without ever mounting it, a Volume over a
// folder inside the guest root, and the small parsing steps they all repeat.
import { crypto } from '../../src/host/builtins';
import { DatasourceError, LimitError, describeError } from '../../src/errors';
import type { Host } from '../../src/host/host';
import { openFat, probeFatLabel } from '../../src/media/fat';
import { openIso9660, probeIso9660Label } from '../../src/media/iso9660';
import { openMedium } from '../../src/media/open-medium';
import type { Volume, VolumeEntry } from '../../src/media/volume';
import type { DatasourceContext, Detection } from '../../src/types';

/** Largest metadata file (JSON, YAML, context.sh) read from a medium. */
export const MAX_METADATA_BYTES = 1024 * 1024;
/** Largest user-data / vendor-data / injected file read from a medium (the user-data decoder's own input limit). */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** One line for a Detection's evidence. */
export function reason(err: unknown): string {
  return describeError(err);
}

/**
 * A read-only Volume over a folder of the guest (a seed folder such as
 * /var/lib/cloud/seed/nocloud). Every access goes through the Host, so paths
 * resolve inside the guest root and a symlink cannot lead outside it.
 */
export function guestDirVolume(host: Host, dir: string, label = ''): Volume {
  const base = dir.replace(/\/+$/, '') || '/';
  const guestPath = (p: string): string => {
    const parts = p.split('/').filter((s) => s !== '' && s !== '.');
    // '..' is dropped rather than resolved: a volume path never climbs out of the volume.
    const clean = parts.filter((s) => s !== '..');
    return clean.length === 0 ? base : `${base === '/' ? '' : base}/${clean.join('/')}`;
  };
  const volPath = (p: string): string => `/${p.split('/').filter((s) => s !== '' && s !== '.' && s !== '..').join('/')}`;
  const entry = async (p: string): Promise<VolumeEntry | undefined> => {
    const info = await host.stat(guestPath(p));
    if (info === undefined || info.type === 'other') return undefined;
    const vp = volPath(p);
    return { name: vp.split('/').pop() ?? '', path: vp, type: info.type, size: info.size, mode: info.mode };
  };
  return {
    fsType: 'iso9660',
    label,
    async list(d: string): Promise<VolumeEntry[]> {
      const out: VolumeEntry[] = [];
      for (const name of await host.list(guestPath(d))) {
        const e = await entry(`${volPath(d)}/${name}`);
        if (e) out.push(e);
      }
      return out;
    },
    stat: entry,
    async readFile(p: string, maxBytes = MAX_PAYLOAD_BYTES): Promise<Buffer> {
      return host.readFile(guestPath(p), maxBytes);
    },
  };
}

/**
 * Open a guest device with the user-space ISO9660 / FAT readers only: for
 * detection, which must stay cheap and never mount. Throws when the device is
 * neither filesystem; the caller turns that into evidence.
 */
export async function peekDevice(host: Host, device: string): Promise<{ volume: Volume; close(): Promise<void> }> {
  const block = await host.openGuestBlock(device);
  try {
    if ((await probeIso9660Label(block)) !== undefined) return { volume: await openIso9660(block), close: () => block.close() };
    if ((await probeFatLabel(block)) !== undefined) return { volume: await openFat(block), close: () => block.close() };
  } catch (err) {
    await block.close();
    throw err;
  }
  await block.close();
  throw new DatasourceError(device, 'neither ISO9660 nor FAT');
}

/** Run `fn` on a peeked device and close it again whatever happens. */
export async function withPeek<T>(host: Host, device: string, fn: (volume: Volume) => Promise<T>): Promise<T> {
  const peek = await peekDevice(host, device);
  try {
    return await fn(peek.volume);
  } finally {
    await peek.close();
  }
}

/**
 * The Volume a detection points at: the --seed volume when there is one, else
 * the device (opened with the user-space readers, the kernel mount only as a
 * live fallback) closed when the pipeline finishes.
 */
export async function openDetected(ctx: DatasourceContext, where: Detection): Promise<{ volume: Volume; source: string }> {
  if (ctx.seed) return { volume: ctx.seed.volume, source: ctx.seed.path };
  const location = where.location;
  if (location === undefined || location === '') throw new DatasourceError('datasource', 'the detection did not say which device to read');
  const medium = await openMedium(ctx.host, { path: location, local: false }, ctx.log).catch((err: unknown) => {
    throw new DatasourceError(location, 'cannot open the medium', { cause: err });
  });
  ctx.onCleanup(() => medium.close());
  return { volume: medium.volume, source: location };
}

/** Whether a path on the volume is a regular file; a reader error counts as "no". */
export async function isFile(volume: Volume, path: string): Promise<boolean> {
  try {
    return (await volume.stat(path))?.type === 'file';
  } catch {
    // A directory the reader cannot walk is, for a marker check, a missing marker.
    return false;
  }
}

export async function isDir(volume: Volume, path: string): Promise<boolean> {
  try {
    return (await volume.stat(path))?.type === 'dir';
  } catch {
    // Same as isFile: an unreadable path is an absent marker.
    return false;
  }
}

/** Read a file that may be absent; any other failure names the medium and the file. */
export async function readOptional(volume: Volume, path: string, maxBytes: number, source: string): Promise<Buffer | undefined> {
  let e: VolumeEntry | undefined;
  try {
    e = await volume.stat(path);
  } catch (err) {
    throw new DatasourceError(`${source}:${path}`, 'cannot look up the file', { cause: err });
  }
  if (e === undefined) return undefined;
  if (e.type !== 'file') throw new DatasourceError(`${source}:${path}`, `is a ${e.type}, not a file`);
  try {
    return await volume.readFile(path, maxBytes);
  } catch (err) {
    // A size limit is its own, clearer error.
    if (err instanceof LimitError) throw err;
    throw new DatasourceError(`${source}:${path}`, 'cannot read the file', { cause: err });
  }
}

export async function readRequired(volume: Volume, path: string, maxBytes: number, source: string): Promise<Buffer> {
  const data = await readOptional(volume, path, maxBytes, source);
  if (data === undefined) throw new DatasourceError(`${source}:${path}`, 'the file is missing');
  return data;
}

/** Parse JSON, naming the file and the parser's reason on failure. */
export function parseJson(bytes: Buffer, origin: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, '')) as unknown;
  } catch (err) {
    throw new DatasourceError(origin, `not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Public keys from authorized_keys text: one per non-blank, non-comment line. */
export function keysFromText(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * Public keys from a metadata value in any of the shapes seen in the wild: a
 * string (authorized_keys text), a list of strings, or a map whose values are
 * keys, lists of keys or EC2-style {"openssh-key": ...} objects.
 */
export function keysFromValue(v: unknown): string[] {
  if (typeof v === 'string') return keysFromText(v);
  if (Array.isArray(v)) return v.flatMap(keysFromValue);
  if (isRecord(v)) return Object.values(v).flatMap(keysFromValue);
  return [];
}

export function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}

/**
 * A content-derived instance id: "<prefix>-" and 16 hex digits of the SHA-256
 * of the parts (each length-prefixed, so moving bytes between parts changes it).
 * Used when a medium names no instance id: never a constant, so clones booted
 * from media with different content get different ids.
 */
export function contentId(prefix: string, parts: readonly (Buffer | string | undefined)[]): string {
  const h = crypto().createHash('sha256');
  for (const p of parts) {
    const b = p === undefined ? Buffer.alloc(0) : Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8');
    h.update(`${p === undefined ? -1 : b.length}:`);
    h.update(b);
  }
  return `${prefix}-${h.digest('hex').slice(0, 16)}`;
}
