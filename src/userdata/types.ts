// Shapes of decoded user-data: the typed parts, the limits on untrusted input, the decode
// options (network access is injected) and the result. Kept apart from the decoder so the
// pipeline and the config layer can import the types without pulling in any code.
import type { GuestctxError } from '../errors';

/** What a part is, after MIME type and first-line detection. */
export type PartKind =
  | 'cloud-config'
  | 'script'
  | 'boothook'
  | 'include'
  | 'include-once'
  | 'cloud-config-archive'
  | 'cloud-config-jsonp'
  | 'part-handler'
  | 'jinja2'
  | 'unknown';

/** When a user script runs: text/x-shellscript is per-instance; the -per-* MIME types say so explicitly. */
export type ScriptFrequency = 'per-boot' | 'per-instance' | 'per-once';

export interface UserDataPart {
  readonly kind: PartKind;
  /** The effective type: the MIME type, or the type the first line maps to (text/cloud-config...). */
  readonly contentType: string;
  /** From Content-Disposition / archive `filename`, else part-NNN in order of appearance. */
  readonly filename: string;
  /** Where the part came from, for messages: "user-data, MIME part 3 (x.sh)". */
  readonly origin: string;
  /** The payload with transfer encodings and gzip removed. */
  readonly content: Buffer;
  /** Only on scripts. */
  readonly frequency?: ScriptFrequency;
}

export interface UserDataLimits {
  /** Largest user-data accepted, and largest body one include may return. */
  readonly maxBytes: number;
  /** Total bytes all gzip layers of one decode may inflate to. */
  readonly maxDecompressedBytes: number;
  /** How many #include levels deep content may nest (user-data itself is level 0). */
  readonly maxIncludeDepth: number;
  /** How many URLs one decode may fetch. */
  readonly maxIncludes: number;
  /** How many parts one decode may produce. */
  readonly maxParts: number;
  /** How many multipart levels may enclose a MIME part. */
  readonly maxMimeDepth: number;
}

/** 16 MiB input, 64 MiB decompressed, 5 include levels, 20 includes, 200 parts, MIME depth 8. */
export const DEFAULT_LIMITS: UserDataLimits = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxDecompressedBytes: 64 * 1024 * 1024,
  maxIncludeDepth: 5,
  maxIncludes: 20,
  maxParts: 200,
  maxMimeDepth: 8,
});

/** Content fetched by #include-once is kept so later boots reuse it (one-time URLs). */
export interface IncludeOnceCache {
  get(url: string): Buffer | undefined;
  set(url: string, body: Buffer): void;
}

export interface DecodeOptions {
  /** Names the input in origins and errors: "user-data" or "vendor-data". */
  readonly source: string;
  /** Set when the datasource says the bytes are base64 (EC2/OpenStack JSON, OpenNebula USER_DATA_ENCODING). */
  readonly encoding?: 'base64';
  /** Fetches one http(s) URL; the caller bounds its time and size. Without it includes fail. */
  readonly fetch?: (url: string) => Promise<Buffer>;
  readonly limits?: Partial<UserDataLimits>;
  readonly includeOnceCache?: IncludeOnceCache;
}

export interface DecodedUserData {
  /** Every part in order, containers (include, archive) before the parts they expanded to. */
  readonly parts: UserDataPart[];
  /** All cloud-config parts merged (merge_how honoured) and JSON patches applied. */
  readonly cloudConfig: Record<string, unknown>;
  /** One entry per failed part, include or limit; the rest of the input still applied. */
  readonly errors: GuestctxError[];
  /** Parts that were recognised but not acted on (part-handler, jinja2, unknown types). */
  readonly warnings: string[];
}
