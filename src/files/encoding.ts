// Decoding of write_files payloads: base64, gzip and both stacked, as the
// cloud-config schema names them. Strict base64 (a typo must not silently
// drop bytes) and a hard cap on inflated size (a small gzip bomb must not
// allocate gigabytes). Pure: no file or process access.
import { ConfigError, LimitError } from '../errors';
import type { WriteFileEncoding } from '../config/cloud-config';
import { zlib } from '../host/builtins';

/** Largest file write_files produces after decoding (and largest fetched source). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

function asBuffer(content: string | Uint8Array): Buffer {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

/**
 * Base64 with the standard alphabet; whitespace (YAML folding) is ignored,
 * missing padding is tolerated, anything else is an error naming the offset.
 */
export function decodeBase64(input: Buffer, where: string): Buffer {
  const text = input.toString('latin1').replace(/\s+/g, '');
  const bad = /[^A-Za-z0-9+/=]/.exec(text);
  if (bad) throw new ConfigError(where, `content is not valid base64: unexpected character ${JSON.stringify(bad[0])} at offset ${bad.index}`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) {
    throw new ConfigError(where, 'content is not valid base64: bad length or padding');
  }
  return Buffer.from(text, 'base64');
}

/** Inflate gzip without ever producing more than maxBytes. */
export function gunzipLimited(input: Buffer, where: string, maxBytes = MAX_FILE_BYTES): Buffer {
  if (input.length < 2 || input[0] !== 0x1f || input[1] !== 0x8b) {
    throw new ConfigError(where, 'content is marked gzip but does not start with the gzip magic bytes (1f 8b)');
  }
  try {
    return zlib().gunzipSync(input, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new LimitError(where, `gzip content inflates past the limit of ${maxBytes} bytes`, { cause: err });
    }
    throw new ConfigError(where, `gzip content cannot be decompressed (${(err as Error).message})`, { cause: err });
  }
}

/**
 * The bytes to write for `content` with `encoding`. The steps apply to the
 * value as given, whether it came as text or as YAML !!binary bytes.
 */
export function decodeContent(content: string | Uint8Array, encoding: WriteFileEncoding | undefined, where: string, maxBytes = MAX_FILE_BYTES): Buffer {
  const raw = asBuffer(content);
  let out: Buffer;
  switch (encoding ?? 'text/plain') {
    case 'text/plain':
      out = raw;
      break;
    case 'base64':
      out = decodeBase64(raw, where);
      break;
    case 'gzip':
      out = gunzipLimited(raw, where, maxBytes);
      break;
    case 'gzip+base64':
      out = gunzipLimited(decodeBase64(raw, where), where, maxBytes);
      break;
    default:
      // The schema only lets the four names through; anything else is a bug upstream, said plainly.
      throw new ConfigError(where, `unknown encoding ${JSON.stringify(encoding)}`);
  }
  if (out.length > maxBytes) throw new LimitError(where, `content is ${out.length} bytes, more than the limit of ${maxBytes}`);
  return out;
}
