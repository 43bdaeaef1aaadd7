// StratusLab's cloud-init contextualization carried in context.sh:
//   CONTEXT_METHOD=cloud-init
//   CLOUD_INIT_AUTHORIZED_KEYS=<base64 of authorized_keys text>
//   CLOUD_INIT_USER_DATA=<base64 of gzip-compressed user-data>
// StratusLab refused payloads over 16384 compressed bytes; so do we, and the
// inflated user-data is bounded too, so a small gzip bomb cannot allocate much.
// Applies whichever label the CD had, so the OpenNebula datasource calls it too.
import { DatasourceError, LimitError } from '../../src/errors';
import { gunzipBounded, isGzip } from '../../src/userdata/envelope';
import { keysFromText, unique } from '../configdrive/local-media';

/** StratusLab's own limit on the gzip-compressed user-data. */
export const STRATUSLAB_MAX_GZIP_BYTES = 16 * 1024;
/** Largest user-data the compressed payload may inflate to (the user-data decoder's input limit). */
export const STRATUSLAB_MAX_USERDATA_BYTES = 16 * 1024 * 1024;

export interface StratusLabCloudInit {
  readonly publicKeys: readonly string[];
  readonly userData?: Buffer;
}

/** True when context.sh asks for StratusLab's cloud-init method. */
export function isStratusLabCloudInit(vars: ReadonlyMap<string, string>): boolean {
  return (vars.get('CONTEXT_METHOD') ?? '').trim().toLowerCase() === 'cloud-init';
}

/**
 * Decode the CLOUD_INIT_* variables; undefined when CONTEXT_METHOD is not
 * "cloud-init". Throws a LimitError for a payload over 16 KiB compressed (or
 * one that inflates past the user-data limit) and a DatasourceError for text
 * that is not base64 or not gzip, each naming `origin` and the variable.
 */
export function stratusLabCloudInit(
  vars: ReadonlyMap<string, string>,
  origin = 'context.sh',
  limits: { readonly maxGzipBytes: number; readonly maxUserDataBytes: number } = { maxGzipBytes: STRATUSLAB_MAX_GZIP_BYTES, maxUserDataBytes: STRATUSLAB_MAX_USERDATA_BYTES },
): StratusLabCloudInit | undefined {
  if (!isStratusLabCloudInit(vars)) return undefined;
  const keysVar = `${origin} CLOUD_INIT_AUTHORIZED_KEYS`;
  const udVar = `${origin} CLOUD_INIT_USER_DATA`;
  let publicKeys: string[] = [];
  const keysB64 = vars.get('CLOUD_INIT_AUTHORIZED_KEYS')?.trim();
  if (keysB64) {
    const text = decode(keysB64, keysVar).toString('utf8');
    // StratusLab's client dropped the "Comment:" lines of SSH2-format key files; so do we.
    publicKeys = unique(keysFromText(text).filter((l) => !l.startsWith('Comment:')));
  }
  const udB64 = vars.get('CLOUD_INIT_USER_DATA')?.trim();
  if (!udB64) return { publicKeys };
  const gz = decode(udB64, udVar);
  if (gz.length > limits.maxGzipBytes) {
    throw new LimitError(udVar, `compressed user-data is ${gz.length} bytes, more than StratusLab's limit of ${limits.maxGzipBytes}`);
  }
  if (!isGzip(gz)) throw new DatasourceError(udVar, 'is not gzip-compressed data (StratusLab sends base64 of gzip)');
  let userData: Buffer;
  try {
    userData = gunzipBounded(gz, { remaining: limits.maxUserDataBytes }, udVar);
  } catch (err) {
    if (err instanceof LimitError) throw err;
    throw new DatasourceError(udVar, 'cannot be decompressed', { cause: err });
  }
  return { publicKeys, ...(userData.length > 0 ? { userData } : {}) };
}

/** Strict base64: Buffer.from() skips garbage silently, which would hide a broken context. */
function decode(b64: string, where: string): Buffer {
  const text = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) {
    const bad = /[^A-Za-z0-9+/=]/.exec(text);
    throw new DatasourceError(where, `is not valid base64 (${bad ? `unexpected ${JSON.stringify(bad[0])} at offset ${bad.index}` : 'bad length or padding'})`);
  }
  return Buffer.from(text, 'base64');
}
