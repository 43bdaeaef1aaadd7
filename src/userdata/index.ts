// User-data and vendor-data decoding: raw bytes in, typed parts and one merged cloud-config out.
//
// Pure: no file, process or network access of its own. Includes are fetched through the
// injected `fetch`; node:zlib is used to inflate gzip (bounded); mailparser is imported
// lazily and only for MIME input.
//
// API
//   decodeUserData(bytes, opts): Promise<DecodedUserData>
//     opts.source   "user-data" | "vendor-data": names the input in every origin and error
//     opts.encoding 'base64' when the datasource marks the bytes as base64 (strictly checked)
//     opts.fetch    (url) => Promise<Buffer>, bounded in time and size by the caller
//     opts.limits   Partial<UserDataLimits>, over DEFAULT_LIMITS: 16 MiB input (and per
//                   include body), 64 MiB inflated by all gzip layers together, 5 include
//                   levels, 20 includes, 200 parts, MIME depth 8
//     opts.includeOnceCache  get/set by URL for #include-once bodies (kept across boots)
//   decodeUserAndVendorData(user, vendor, opts): Promise<DecodedUserData & { vendorEnabled }>
//     Vendor parts first, then user parts. The merged config is user-data over vendor-data
//     with "list()+dict()+str()" (user keys win, nested mappings merge), as cloud-init
//     combines its sources. User-data `vendor_data: {enabled: false}` (or any false-like
//     value, or a non-mapping) drops vendor-data entirely; vendor-data is then not decoded.
//   mergeCloudConfig(base, next, mergeHow?): merge with cloud-init merge_how semantics
//     (see merge.ts); default for user-data parts "dict(replace)+list()+str()".
//   mimeParserLoadCount(): how many times mailparser was imported (0 for non-MIME input).
//
// Result
//   parts        every part in document order: kind, effective contentType, filename
//                (Content-Disposition / archive filename / part-NNN), origin such as
//                "user-data, MIME part 3 (x.sh)" or "user-data, include http://h/x, MIME part 1",
//                content with transfer encoding and gzip removed, frequency on scripts.
//                Containers (include, include-once, cloud-config-archive) come right
//                before the parts they expanded to; consumers act on the leaf kinds.
//   cloudConfig  all cloud-config parts merged in order, merge_how / merge_type keys and
//                Merge-Type headers honoured and removed, jsonp patches applied where they
//                appear (a patch sees only its own source: user-data patches do not see
//                vendor-data, as in cloud-init). Values are read as YAML 1.1 like
//                cloud-init's PyYAML: `0644` is 420 (octal), `yes`/`on` are true,
//                timestamps stay strings.
//   errors       one GuestctxError per failure, the rest of the input still applies:
//                ParseError (bad YAML with its line, bad base64, bad gzip, bad MIME, bad
//                JSON patch), GuestctxError (failed or refused include), ConfigError (bad
//                merge_how), LimitError (size, decompression, depth, count limits).
//                decodeUserData itself does not throw for bad input.
//   warnings     parts kept but not acted on: part-handler, jinja2, unknown types.
//
// Formats: #cloud-config, #! scripts, #cloud-boothook, #include, #include-once,
// #cloud-config-archive, #cloud-config-jsonp, #part-handler, ## template: jinja (first line,
// leading blanks ignored, any case, longest prefix wins), the matching text/* MIME types,
// text/x-shellscript-per-{boot,instance,once}; text/plain, application/octet-stream and gzip
// types are classified by their first line. MIME is recognised by "MIME-Version:" in the
// first 4 KiB, as cloud-init does.
import type { DecodeOptions, DecodedUserData } from './types';
import { decodeSource } from './decode';
import { SOURCE_MERGE_DEFAULT, mergeCloudConfig } from './merge';

export type {
  DecodeOptions,
  DecodedUserData,
  IncludeOnceCache,
  PartKind,
  ScriptFrequency,
  UserDataLimits,
  UserDataPart,
} from './types';
export { DEFAULT_LIMITS } from './types';
export { mergeCloudConfig, parseMergeHow, PART_MERGE_DEFAULT, SOURCE_MERGE_DEFAULT } from './merge';
export { applyJsonPatch } from './json-patch';
export { mimeParserLoadCount } from './mime';
export { loadYaml11 } from './yaml11';

/** Decode one user-data (or vendor-data) blob. Bad input is reported in `errors`, never thrown. */
export function decodeUserData(bytes: Buffer, opts: DecodeOptions): Promise<DecodedUserData> {
  return decodeSource(bytes, opts);
}

export interface UserAndVendorOptions extends Omit<DecodeOptions, 'source'> {
  /** Names used in origins; default "user-data" and "vendor-data". */
  readonly userSource?: string;
  readonly vendorSource?: string;
}

/** cloud-init's reading of a boolean setting: true, or one of the words true/yes/on/1 (any case). */
function truthy(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return ['true', 'yes', 'on', '1', 'y'].includes(value.trim().toLowerCase());
  return false;
}

/** Whether user-data lets vendor-data apply, with a warning when the setting is malformed. */
function vendorDataEnabled(config: Record<string, unknown>, warnings: string[], userSource: string): boolean {
  if (!('vendor_data' in config)) return true;
  const setting = config['vendor_data'];
  if (setting === null || typeof setting !== 'object' || Array.isArray(setting)) {
    warnings.push(`${userSource}: vendor_data must be a mapping such as {enabled: false}; vendor-data disabled`);
    return false;
  }
  const enabled = (setting as Record<string, unknown>)['enabled'];
  return enabled === undefined ? true : truthy(enabled);
}

/**
 * Decode user-data and vendor-data together: vendor parts first, user parts after; user
 * cloud-config takes priority over vendor cloud-config.
 */
export async function decodeUserAndVendorData(
  user: Buffer | undefined,
  vendor: Buffer | undefined,
  opts: UserAndVendorOptions = {},
): Promise<DecodedUserData & { vendorEnabled: boolean }> {
  const { userSource = 'user-data', vendorSource = 'vendor-data', ...common } = opts;
  const empty: DecodedUserData = { parts: [], cloudConfig: {}, errors: [], warnings: [] };
  const u = user !== undefined ? await decodeSource(user, { ...common, source: userSource }) : empty;
  const warnings = [...u.warnings];
  const vendorEnabled = vendorDataEnabled(u.cloudConfig, warnings, userSource);
  if (!vendorEnabled || vendor === undefined) {
    return { parts: u.parts, cloudConfig: u.cloudConfig, errors: u.errors, warnings, vendorEnabled };
  }
  const v = await decodeSource(vendor, { ...common, source: vendorSource });
  return {
    parts: [...v.parts, ...u.parts],
    cloudConfig: mergeCloudConfig(u.cloudConfig, v.cloudConfig, SOURCE_MERGE_DEFAULT),
    errors: [...v.errors, ...u.errors],
    warnings: [...v.warnings, ...warnings],
    vendorEnabled,
  };
}
