// write-files: cloud-config write_files (content with an encoding, or an http
// source) and the files a config drive injects. Two modules: 'write-files' in
// the network stage, and 'write-files-deferred' in the final stage for items
// with `defer: true` (their owners may only exist once users and packages are
// set up). Every item is written on its own: a bad one is reported and the
// others are still written.
// OpenNebula FILES / FILES_DS are not written anywhere by one-context: they sit
// on the context CD for the scripts run from it. guestctx gives those scripts
// a private copy of the CD (src/scripts/context-dir.ts, used by init-scripts),
// so this module has nothing to do for them.
import { ConfigError, ModuleError, describeError } from '../src/errors';
import type { WriteFileEncoding, WriteFileSpec } from '../src/config/cloud-config';
import type { GuestConfig } from '../src/config/guest-config';
import { MAX_FILE_BYTES, decodeContent } from '../src/files/encoding';
import { checkGuestPath } from '../src/files/guest-path';
import { fetchSource } from '../src/files/source';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export const DEFAULT_FILE_MODE = 0o644;
export const DEFAULT_FILE_OWNER = 'root:root';

/** One file to write, validated except for what needs the guest (owner) or the network (source). */
export interface FileItem {
  /** For messages: "write_files[2]", "config drive /openstack/content/0000". */
  readonly where: string;
  readonly path: string;
  readonly content?: string | Uint8Array;
  readonly encoding?: WriteFileEncoding;
  readonly source?: { readonly uri: string; readonly headers?: Readonly<Record<string, string>> };
  readonly owner: string;
  readonly mode: number;
  readonly append: boolean;
}

export interface WriteFilesPlan {
  readonly items: readonly FileItem[];
  /** Items refused while planning (bad path): reported, the others are still written. */
  readonly invalid: readonly string[];
  /** Warnings from planning (a relative path anchored at /). */
  readonly warnings: readonly string[];
}

function planItems(specs: readonly { spec: WriteFileSpec; index: number }[], items: FileItem[], invalid: string[], warnings: string[]): void {
  for (const { spec, index } of specs) {
    const where = `write_files[${index}]`;
    try {
      const checked = checkGuestPath(spec.path, `${where}.path`);
      if (checked.warning !== undefined) warnings.push(checked.warning);
      items.push({
        where,
        path: checked.path,
        ...(spec.content !== undefined ? { content: spec.content } : {}),
        ...(spec.encoding !== undefined ? { encoding: spec.encoding } : {}),
        ...(spec.source !== undefined ? { source: spec.source } : {}),
        owner: spec.owner ?? DEFAULT_FILE_OWNER,
        mode: spec.permissions ?? DEFAULT_FILE_MODE,
        append: spec.append ?? false,
      });
    } catch (err) {
      invalid.push(describeError(err));
    }
  }
}

function indexed(cfg: GuestConfig, deferred: boolean): { spec: WriteFileSpec; index: number }[] {
  return (cfg.cloud.write_files ?? []).map((spec, index) => ({ spec, index })).filter(({ spec }) => (spec.defer ?? false) === deferred);
}

function parseImmediate(cfg: GuestConfig): WriteFilesPlan | undefined {
  const items: FileItem[] = [];
  const invalid: string[] = [];
  const warnings: string[] = [];
  planItems(indexed(cfg, false), items, invalid, warnings);
  // Files the datasource injects (config drive "files"): plain files, root's, 0644.
  for (const f of cfg.instance?.files ?? []) {
    try {
      const checked = checkGuestPath(f.path, f.origin);
      items.push({ where: f.origin, path: checked.path, content: f.content, owner: DEFAULT_FILE_OWNER, mode: DEFAULT_FILE_MODE, append: false });
    } catch (err) {
      invalid.push(describeError(err));
    }
  }
  return items.length === 0 && invalid.length === 0 ? undefined : { items, invalid, warnings };
}

function parseDeferred(cfg: GuestConfig): WriteFilesPlan | undefined {
  const items: FileItem[] = [];
  const invalid: string[] = [];
  const warnings: string[] = [];
  planItems(indexed(cfg, true), items, invalid, warnings);
  return items.length === 0 && invalid.length === 0 ? undefined : { items, invalid, warnings };
}

/** The bytes for one item: the source when it answers, else the content (as cloud-init falls back). */
async function itemBytes(ctx: ModuleContext, item: FileItem): Promise<Buffer> {
  if (item.source !== undefined) {
    try {
      return await fetchSource(ctx.host, item.source.uri, item.source.headers, `${item.where}.source.uri`);
    } catch (err) {
      if (item.content === undefined) {
        throw new ModuleError(item.where, `${describeError(err)}; no content to fall back to, ${item.path} not written`, { cause: err });
      }
      ctx.log.warn(`${describeError(err)}; writing ${item.where}.content instead`);
    }
  }
  return item.content === undefined ? Buffer.alloc(0) : decodeContent(item.content, item.encoding, `${item.where}.content`, MAX_FILE_BYTES);
}

async function writeItem(ctx: ModuleContext, item: FileItem): Promise<boolean> {
  const { host } = ctx;
  let data = await itemBytes(ctx, item);
  if (item.append) {
    const info = await host.stat(item.path);
    if (info !== undefined && info.type !== 'file') throw new ConfigError(`${item.where}.path`, `${item.path} exists and is not a regular file`);
    if (info !== undefined) data = Buffer.concat([await host.readFile(item.path), data]);
  }
  // A file nobody else may read may hold a secret: keep it out of dry-run diffs.
  const secret = (item.mode & 0o004) === 0;
  return host.writeFile(item.path, data, { mode: item.mode, owner: item.owner, secret });
}

async function runPlan(name: string, ctx: ModuleContext, plan: WriteFilesPlan): Promise<ModuleOutcome> {
  const { log } = ctx;
  for (const w of plan.warnings) log.warn(w);
  const failures = [...plan.invalid];
  const written: string[] = [];
  const unchanged: string[] = [];
  for (const item of plan.items) {
    try {
      if (await writeItem(ctx, item)) {
        written.push(item.path);
        log.info(`${item.path}: written (${item.where}, mode 0${item.mode.toString(8)}, owner ${item.owner}${item.append ? ', appended' : ''})`);
      } else unchanged.push(item.path);
    } catch (err) {
      failures.push(describeError(err));
    }
  }
  const details = { written, unchanged, ...(failures.length > 0 ? { failed: failures } : {}) };
  if (failures.length > 0) {
    for (const f of failures) log.error(f);
    throw new ModuleError(name, `${failures.length} file(s) failed (${written.length + unchanged.length} others in place): ${failures.join('; ')}`, { details });
  }
  return { details };
}

export const writeFiles: Module<WriteFilesPlan> = {
  name: 'write-files',
  stage: 'network',
  frequency: 'per-instance',
  description: 'write cloud-config write_files and the files a config drive injects',
  parse: parseImmediate,
  run: (ctx, plan) => runPlan('write-files', ctx, plan),
};

export const writeFilesDeferred: Module<WriteFilesPlan> = {
  name: 'write-files-deferred',
  stage: 'final',
  frequency: 'per-instance',
  description: 'write the write_files items marked defer: true, late in boot',
  parse: parseDeferred,
  run: (ctx, plan) => runPlan('write-files-deferred', ctx, plan),
};
