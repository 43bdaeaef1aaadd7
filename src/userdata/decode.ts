// The user-data walker: unwraps base64/gzip/MIME, classifies every payload, follows
// #include URLs through the injected fetch, explodes #cloud-config-archive, and merges
// cloud-config parts (merge_how honoured, JSON patches applied) in document order.
// A failing part becomes one error and the walk goes on; limits bound all the work.
import { GuestctxError, LimitError, ParseError } from '../errors';
import { decodeBase64Strict, gunzipBounded, isGzip, looksLikeMime, type InflateBudget } from './envelope';
import { applyJsonPatch } from './json-patch';
import { PART_MERGE_DEFAULT, mergeWithSpecs, parseMergeHow, takeMergeHow } from './merge';
import { splitMime } from './mime';
import { effectiveType, isGzipType, kindOfType } from './part-type';
import type { DecodeOptions, DecodedUserData, UserDataLimits, UserDataPart } from './types';
import { DEFAULT_LIMITS } from './types';
import { loadYaml11 } from './yaml11';

/** Mutable state of one decode. */
interface Walk {
  readonly opts: DecodeOptions;
  readonly limits: UserDataLimits;
  readonly parts: UserDataPart[];
  readonly errors: GuestctxError[];
  readonly warnings: string[];
  readonly budget: InflateBudget;
  config: Record<string, unknown>;
  includes: number;
  partsFull: boolean;
  includesFull: boolean;
}

/** Headers a part may carry that change how it is handled (Merge-Type), lower-case names. */
type PartHeaders = ReadonlyMap<string, string>;
const NO_HEADERS: PartHeaders = new Map();

function fail(walk: Walk, err: unknown, origin: string, what: string): void {
  walk.errors.push(err instanceof GuestctxError ? err : new GuestctxError(origin, `${what}: ${(err as Error).message}`, { cause: err }));
}

function label(origin: string, filename: string | undefined): string {
  return filename ? `${origin} (${filename})` : origin;
}

/** Only spaces, tabs and line breaks (checked bytewise: the input may be megabytes). */
function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) {
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  }
  return true;
}

/** Records a part; false once the part limit is reached (reported once). */
function addPart(walk: Walk, part: UserDataPart): boolean {
  if (walk.parts.length >= walk.limits.maxParts) {
    if (!walk.partsFull) {
      walk.partsFull = true;
      walk.errors.push(new LimitError(part.origin, `more than ${walk.limits.maxParts} user-data parts; the rest are ignored`));
    }
    return false;
  }
  walk.parts.push(part);
  return true;
}

/**
 * A whole message: the user-data itself or a body fetched by #include. It may be gzip and
 * then MIME; anything else is a single payload classified by its first line.
 */
async function walkMessage(walk: Walk, input: Buffer, origin: string, includeDepth: number): Promise<void> {
  let bytes = input;
  if (bytes.length > walk.limits.maxBytes) {
    walk.errors.push(new LimitError(origin, `${bytes.length} bytes is more than the limit of ${walk.limits.maxBytes}`));
    return;
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzipBounded(bytes, walk.budget, origin);
    } catch (err) {
      fail(walk, err, origin, 'gzip');
      return;
    }
  }
  // Nothing (or only blank lines) means no parts, not an error: a datasource with empty user-data.
  if (isBlank(bytes)) return;
  if (looksLikeMime(bytes)) {
    let leaves;
    try {
      leaves = await splitMime(bytes, origin, walk.limits);
    } catch (err) {
      fail(walk, err, origin, 'MIME');
      return;
    }
    for (const leaf of leaves) {
      const where = leaf.partId === '' ? `${origin}, MIME body` : `${origin}, MIME part ${leaf.partId}`;
      await walkPayload(walk, leaf.content, leaf.contentType, leaf.filename, where, leaf.headers, includeDepth);
    }
    return;
  }
  await walkPayload(walk, bytes, undefined, undefined, origin, NO_HEADERS, includeDepth);
}

/** One payload with its declared type (if any): a MIME leaf, an archive entry or a plain message. */
async function walkPayload(
  walk: Walk,
  raw: Buffer,
  declaredType: string | undefined,
  givenName: string | undefined,
  where: string,
  headers: PartHeaders,
  includeDepth: number,
): Promise<void> {
  if (walk.partsFull) return;
  const origin = label(where, givenName);
  let content = raw;
  let declared = declaredType;
  if (isGzip(content)) {
    try {
      content = gunzipBounded(content, walk.budget, origin);
    } catch (err) {
      fail(walk, err, origin, 'gzip');
      return;
    }
    // A gzip wrapper type says nothing about the content: let its first line decide.
    if (declared !== undefined && isGzipType(declared)) declared = undefined;
  } else if (declared !== undefined && isGzipType(declared)) {
    walk.errors.push(new ParseError(origin, `part is declared ${declared} but its content is not gzip`));
    return;
  }

  const contentType = effectiveType(declared, content);
  const { kind, frequency } = kindOfType(contentType);
  const filename = givenName ?? `part-${String(walk.parts.length + 1).padStart(3, '0')}`;
  const part: UserDataPart = frequency ? { kind, contentType, filename, origin, content, frequency } : { kind, contentType, filename, origin, content };
  if (!addPart(walk, part)) return;

  switch (kind) {
    case 'cloud-config':
      mergeCloudConfigPart(walk, content, origin, headers);
      return;
    case 'cloud-config-jsonp':
      applyPatchPart(walk, content, origin);
      return;
    case 'include':
    case 'include-once':
      await walkInclude(walk, content, origin, kind === 'include-once', includeDepth);
      return;
    case 'cloud-config-archive':
      await walkArchive(walk, content, origin, includeDepth);
      return;
    case 'part-handler':
      walk.warnings.push(`${origin}: part-handler parts are not supported; the part is kept but not run`);
      return;
    case 'jinja2':
      walk.warnings.push(`${origin}: jinja templates are not rendered; the part is kept but not used`);
      return;
    case 'unknown':
      walk.warnings.push(`${origin}: unhandled user-data type ${contentType}; the part is kept but not used`);
      return;
    default:
      // scripts and boothooks are carried to the pipeline as they are
      return;
  }
}

function mergeCloudConfigPart(walk: Walk, content: Buffer, origin: string, headers: PartHeaders): void {
  let doc: unknown;
  try {
    doc = loadYaml11(content.toString('utf8'), origin);
  } catch (err) {
    fail(walk, err, origin, 'YAML');
    return;
  }
  if (doc === null || doc === undefined) return; // "#cloud-config" alone: nothing to merge
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    walk.errors.push(new ParseError(origin, `cloud-config must be a YAML mapping, not ${Array.isArray(doc) ? 'a list' : `a ${typeof doc}`}`));
    return;
  }
  const { config, mergeHow } = takeMergeHow(doc as Record<string, unknown>);
  try {
    // As in cloud-init: the part's own merge_how, then its Merge-Type header, then the default.
    const specs = [
      ...parseMergeHow(mergeHow, `${origin} merge_how`),
      ...parseMergeHow(headers.get('merge-type') ?? headers.get('x-merge-type'), `${origin} Merge-Type header`),
    ];
    if (specs.length > 0 && !specs.some((s) => s.name === 'dict')) {
      walk.warnings.push(`${origin}: merge_how has no dict() merger, so this part changes nothing (as in cloud-init)`);
    }
    walk.config = mergeWithSpecs(walk.config, config, specs.length > 0 ? specs : parseMergeHow(PART_MERGE_DEFAULT));
  } catch (err) {
    fail(walk, err, origin, 'merge');
  }
}

function applyPatchPart(walk: Walk, content: Buffer, origin: string): void {
  // The header line is not JSON; drop it (any case) before parsing.
  const text = content.toString('utf8').trimStart().replace(/^#cloud-config-jsonp[^\n]*\n?/i, '');
  let patch: unknown;
  try {
    patch = JSON.parse(text);
  } catch (err) {
    walk.errors.push(new ParseError(origin, `invalid JSON in cloud-config-jsonp: ${(err as Error).message}`, { cause: err }));
    return;
  }
  try {
    walk.config = applyJsonPatch(walk.config, patch, origin) as Record<string, unknown>;
    if (walk.config === null || typeof walk.config !== 'object' || Array.isArray(walk.config)) {
      throw new ParseError(origin, 'JSON patch turned the cloud-config into something other than a mapping');
    }
  } catch (err) {
    fail(walk, err, origin, 'JSON patch');
  }
}

async function walkInclude(walk: Walk, content: Buffer, origin: string, onceByType: boolean, includeDepth: number): Promise<void> {
  let once = onceByType;
  for (const rawLine of content.toString('utf8').split(/\r?\n/)) {
    let line = rawLine.trim();
    const lower = line.toLowerCase();
    // The header may carry the first URL on the same line: "#include http://...".
    if (lower.startsWith('#include-once')) {
      once = true;
      line = line.slice('#include-once'.length).trim();
    } else if (lower.startsWith('#include')) {
      once = onceByType;
      line = line.slice('#include'.length).trim();
    }
    if (line === '' || line.startsWith('#')) continue;
    const url = line;
    const where = `${origin}, include ${url}`;
    if (includeDepth + 1 > walk.limits.maxIncludeDepth) {
      walk.errors.push(new LimitError(where, `includes nested more than ${walk.limits.maxIncludeDepth} levels deep; not fetched`));
      continue;
    }
    if (walk.includes >= walk.limits.maxIncludes) {
      if (!walk.includesFull) {
        walk.includesFull = true;
        walk.errors.push(new LimitError(where, `more than ${walk.limits.maxIncludes} includes; the rest are not fetched`));
      }
      continue;
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (err) {
      walk.errors.push(new ParseError(where, 'include line is not a valid URL', { cause: err }));
      continue;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      walk.errors.push(new GuestctxError(where, `refusing to include a ${parsed.protocol.replace(/:$/, '')} URL: only http and https are allowed`));
      continue;
    }
    walk.includes += 1;
    let body: Buffer;
    try {
      body = await fetchInclude(walk, url, once);
    } catch (err) {
      walk.errors.push(new GuestctxError(where, `include failed: ${(err as Error).message}`, { cause: err }));
      continue;
    }
    await walkMessage(walk, body, where, includeDepth + 1);
  }
}

async function fetchInclude(walk: Walk, url: string, once: boolean): Promise<Buffer> {
  const cache = walk.opts.includeOnceCache;
  if (once && cache) {
    const hit = cache.get(url);
    if (hit !== undefined) return hit;
  }
  if (!walk.opts.fetch) throw new Error('no network access was given to fetch includes');
  const body = await walk.opts.fetch(url);
  // Only a body worth keeping is cached; an oversized one fails in walkMessage every time.
  if (once && cache && body.length <= walk.limits.maxBytes) cache.set(url, body);
  return body;
}

async function walkArchive(walk: Walk, content: Buffer, origin: string, includeDepth: number): Promise<void> {
  let doc: unknown;
  try {
    doc = loadYaml11(content.toString('utf8'), origin);
  } catch (err) {
    fail(walk, err, origin, 'YAML');
    return;
  }
  if (doc === null || doc === undefined) return;
  if (!Array.isArray(doc)) {
    walk.errors.push(new ParseError(origin, 'cloud-config-archive must be a YAML list of parts'));
    return;
  }
  for (const [i, entry] of doc.entries()) {
    const where = `${origin}, archive entry ${i + 1}`;
    // A bare string is the content of a part whose type its first line decides.
    const ent: Record<string, unknown> | undefined =
      typeof entry === 'string' ? { content: entry } : entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? (entry as Record<string, unknown>) : undefined;
    if (ent === undefined) {
      walk.errors.push(new ParseError(where, 'archive entry must be a mapping {type, content, filename} or a string'));
      continue;
    }
    const body = ent['content'] ?? '';
    if (typeof body !== 'string') {
      walk.errors.push(new ParseError(where, 'archive entry "content" must be a string'));
      continue;
    }
    const type = typeof ent['type'] === 'string' && ent['type'] !== '' ? ent['type'].toLowerCase() : undefined;
    const filename = typeof ent['filename'] === 'string' && ent['filename'] !== '' ? ent['filename'] : undefined;
    // Other keys are headers of the part (cloud-init passes e.g. Merge-Type through).
    const headers = new Map<string, string>();
    for (const [k, v] of Object.entries(ent)) {
      if (typeof v === 'string' && !['content', 'type', 'filename'].includes(k.toLowerCase())) headers.set(k.toLowerCase(), v);
    }
    // Without a type the first line decides, and cloud-config is the fallback.
    const bytes = Buffer.from(body, 'utf8');
    const declared = type ?? (effectiveType(undefined, bytes) === 'text/x-not-multipart' ? 'text/cloud-config' : undefined);
    await walkPayload(walk, bytes, declared, filename, where, headers, includeDepth);
  }
}

export function resolveLimits(limits: Partial<UserDataLimits> | undefined): UserDataLimits {
  return { ...DEFAULT_LIMITS, ...(limits ?? {}) };
}

/** Decode one source (user-data or vendor-data). Never throws for bad input: see `errors`. */
export async function decodeSource(bytes: Buffer, opts: DecodeOptions): Promise<DecodedUserData> {
  const limits = resolveLimits(opts.limits);
  const walk: Walk = {
    opts,
    limits,
    parts: [],
    errors: [],
    warnings: [],
    budget: { remaining: limits.maxDecompressedBytes },
    config: {},
    includes: 0,
    partsFull: false,
    includesFull: false,
  };
  let input = bytes;
  if (opts.encoding === 'base64') {
    if (input.length > Math.ceil((limits.maxBytes * 4) / 3) + 1024) {
      walk.errors.push(new LimitError(opts.source, `base64 user-data of ${input.length} bytes is more than the limit of ${limits.maxBytes} decoded bytes`));
      return { parts: [], cloudConfig: {}, errors: walk.errors, warnings: [] };
    }
    try {
      input = decodeBase64Strict(input, opts.source);
    } catch (err) {
      fail(walk, err, opts.source, 'base64');
      return { parts: [], cloudConfig: {}, errors: walk.errors, warnings: [] };
    }
  }
  await walkMessage(walk, input, opts.source, 0);
  return { parts: walk.parts, cloudConfig: walk.config, errors: walk.errors, warnings: walk.warnings };
}
