// The wrappings around user-data payloads: base64 (when the datasource says so), gzip
// (recognised by its magic bytes at any level) and the MIME sniff. Gzip is inflated with
// a hard output cap so a small bomb cannot allocate gigabytes before we notice.
import { LimitError, ParseError } from '../errors';
import { zlib } from '../host/builtins';

/** Strict base64: Buffer.from(x, 'base64') silently skips garbage, which would hide a broken datasource. */
export function decodeBase64Strict(input: Buffer, source: string): Buffer {
  const text = input.toString('latin1').replace(/[\r\n\t ]+/g, '');
  // Both alphabets are seen in the wild (standard and URL-safe); padding is optional.
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || text.length % 4 === 1) {
    const bad = /[^A-Za-z0-9+/_=-]/.exec(text);
    const detail = bad ? `unexpected character ${JSON.stringify(bad[0])} at offset ${bad.index}` : 'bad length or padding';
    throw new ParseError(source, `user-data is marked base64 but is not valid base64 (${detail})`);
  }
  // Node's base64 decoder accepts both alphabets once the text is known to be clean.
  return Buffer.from(text, 'base64');
}

export function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompression budget shared by every gzip layer of one decode. */
export interface InflateBudget {
  remaining: number;
}

/**
 * Inflate gzip (all members) without producing more than the budget allows.
 * zlib stops as soon as the output passes maxOutputLength, so a bomb costs at most the budget.
 */
export function gunzipBounded(bytes: Buffer, budget: InflateBudget, origin: string): Buffer {
  if (budget.remaining <= 0) {
    throw new LimitError(origin, 'gzip content not inflated: the decompression budget is already used up');
  }
  let out: Buffer;
  try {
    out = zlib().gunzipSync(bytes, { maxOutputLength: budget.remaining });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new LimitError(origin, `gzip content inflates past the limit of ${budget.remaining} bytes (gzip bomb?)`, {
        cause: err,
      });
    }
    throw new ParseError(origin, `gzip content cannot be decompressed: ${(err as Error).message}`, { cause: err });
  }
  budget.remaining -= out.length;
  return out;
}

/** cloud-init's rule: a message is MIME when "MIME-Version:" appears in its first 4 KiB. */
export function looksLikeMime(bytes: Buffer): boolean {
  return /mime-version:/i.test(bytes.subarray(0, 4096).toString('latin1'));
}
