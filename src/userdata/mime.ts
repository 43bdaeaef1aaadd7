// MIME multipart user-data, split into its leaf parts with mailparser. mailparser (and its
// dependency tree) is imported lazily, only when a message actually is MIME: most user-data
// is a plain #cloud-config and must not pay that start-up cost.
import { LimitError, ParseError } from '../errors';

export interface MimeLeaf {
  /** IMAP-style part number: "3", "4.1"; "" for a single-part MIME body. */
  readonly partId: string;
  /** How many multiparts enclose the part. */
  readonly depth: number;
  readonly contentType: string;
  readonly filename: string | undefined;
  /** Header values by lower-case name (only the ones user-data cares about are strings). */
  readonly headers: ReadonlyMap<string, string>;
  /** Body with the Content-Transfer-Encoding removed; charset untouched. */
  readonly content: Buffer;
}

export interface MimeLimits {
  readonly maxParts: number;
  readonly maxMimeDepth: number;
}

type MailparserModule = typeof import('mailparser');

let loads = 0;
let loading: Promise<MailparserModule> | undefined;

/** How many times mailparser has been imported by this module: 0 proves a decode never needed it. */
export function mimeParserLoadCount(): number {
  return loads;
}

function loadMailparser(): Promise<MailparserModule> {
  if (loading === undefined) {
    loads += 1;
    loading = import('mailparser');
  }
  return loading;
}

/** The subset of a MailParser attachment event we read. */
interface AttachmentEvent {
  type: 'attachment';
  contentType: string;
  filename?: string;
  partId?: string | null;
  headers: Map<string, unknown>;
  content: NodeJS.ReadableStream;
  release: (() => void) | null;
}

/** Internal tree node of MailParser, used only to find multiparts without a boundary. */
interface TreeNode {
  contentType?: string;
  headers?: Map<string, unknown>;
  children?: TreeNode[];
}

function headerString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && 'value' in value && typeof value.value === 'string') {
    return value.value;
  }
  return undefined;
}

/**
 * The type the part declares in its own Content-Type header. mailparser's
 * `contentType` replaces application/octet-stream by a guess from the file
 * name (x.sh -> application/x-shar) and can be absent for odd headers; the
 * routing must see what the sender wrote. No header means text/plain (RFC
 * 2045), which is then sniffed by its first line like cloud-init does.
 */
function declaredType(headers: ReadonlyMap<string, string>): string {
  const declared = headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  return declared !== undefined && declared !== '' ? declared : 'text/plain';
}

function missingBoundary(node: TreeNode | undefined, depth = 0): boolean {
  if (node === undefined || depth > 64) return false;
  if (node.contentType?.startsWith('multipart/')) {
    const ct = node.headers?.get('content-type') as { params?: Record<string, string> } | undefined;
    if (!ct?.params?.['boundary']) return true;
  }
  return (node.children ?? []).some((child) => missingBoundary(child, depth + 1));
}

/**
 * Split a MIME message into its leaves, in document order. Multipart containers are
 * walked, not returned. Throws ParseError for a message mailparser cannot split, and
 * LimitError when the message is nested deeper or has more parts than allowed.
 */
export async function splitMime(bytes: Buffer, origin: string, limits: MimeLimits): Promise<MimeLeaf[]> {
  const { MailParser } = await loadMailparser();
  // mailsplit counts every node; a cap just above ours stops a part flood inside the splitter.
  const parser = new MailParser({ maxChildNodes: limits.maxParts * 2 + 16 } as ConstructorParameters<typeof MailParser>[0]);
  // Every leaf must come out on its own with its headers. By default MailParser folds inline
  // text/plain parts into one "text" body, which would glue two #cloud-config parts together.
  (parser as unknown as { textTypes: string[] }).textTypes = [];

  const leaves: MimeLeaf[] = [];
  const pending: Promise<void>[] = [];
  let limitError: LimitError | undefined;

  const done = new Promise<void>((resolve, reject) => {
    parser.on('error', (err: unknown) => reject(err));
    parser.on('end', () => resolve());
  });

  parser.on('data', (event: { type: string }) => {
    if (event.type !== 'attachment') return;
    const att = event as AttachmentEvent;
    const partId = att.partId ?? '';
    const depth = partId === '' ? 0 : partId.split('.').length;
    const index = leaves.length;
    if (depth > limits.maxMimeDepth && limitError === undefined) {
      limitError = new LimitError(`${origin}, MIME part ${partId}`, `MIME parts nested ${depth} levels deep (limit ${limits.maxMimeDepth})`);
    }
    if (index >= limits.maxParts && limitError === undefined) {
      limitError = new LimitError(origin, `MIME message has more than ${limits.maxParts} parts`);
    }
    const chunks: Buffer[] = [];
    pending.push(
      new Promise<void>((resolve, reject) => {
        att.content.on('data', (chunk: Buffer) => {
          // Past a limit the content is drained and dropped, so the parser can finish.
          if (limitError === undefined) chunks.push(chunk);
        });
        att.content.on('error', reject);
        att.content.on('end', () => {
          if (limitError === undefined) {
            const headers = new Map<string, string>();
            for (const [name, value] of att.headers) {
              const text = headerString(value);
              if (text !== undefined) headers.set(name.toLowerCase(), text);
            }
            leaves[index] = {
              partId,
              depth,
              contentType: declaredType(headers),
              filename: att.filename,
              headers,
              content: Buffer.concat(chunks),
            };
          }
          att.release?.();
          resolve();
        });
      }),
    );
  });

  try {
    parser.end(bytes);
    await done;
    await Promise.all(pending);
  } catch (err) {
    // mailsplit signals its own node/header caps with EMAXLEN: that is a limit, not bad syntax.
    if ((err as NodeJS.ErrnoException).code === 'EMAXLEN') {
      throw new LimitError(origin, `MIME message is too large to split: ${(err as Error).message}`, { cause: err });
    }
    throw new ParseError(origin, `MIME message cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
  if (limitError !== undefined) throw limitError;

  const tree = (parser as unknown as { tree?: TreeNode }).tree;
  if (missingBoundary(tree)) {
    throw new ParseError(origin, 'MIME multipart has no boundary parameter in its Content-Type, its parts cannot be found');
  }
  return leaves.filter((leaf): leaf is MimeLeaf => leaf !== undefined);
}
