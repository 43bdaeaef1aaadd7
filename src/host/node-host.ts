// The Host on a real machine: node:fs and node:child_process live here and in
// nowhere else that datasources or modules can reach. With dryRun, writes go to
// an in-memory overlay (later reads see them) and commands are only recorded.
// File operations use node:fs's synchronous calls behind the async interface:
// the agent does one thing at a time, and a libuv thread-pool round trip per
// lstat/read (over a thousand in one run) cost more than the calls themselves,
// several times more in a guest under emulation. Commands and HTTP stay async.
import { accessSync, chmodSync, chownSync, closeSync, constants as fsConstants, fchmodSync, fchownSync, fstatSync, fsyncSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, realpathSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HostError, LimitError } from '../errors';
import type { BlockSource, Volume } from '../media/volume';
import { childProcess, crypto, http, https } from './builtins';
import { dirVolume } from './dir-volume';
import { GUEST_PATH } from './guest-path';
import type { Change, CommandResult, FileInfo, GuestUser, Host, HttpRequest, HttpResponse, MkdirOptions, OpenedBlock, RunOptions, WriteOptions } from './host';
import { parseGroupFile, parsePasswd } from './passwd';
import { normaliseGuestPath, resolveInRootSync } from './resolve';

/** Runs a program; replaced in tests by a recorder. argv[0] is the program. */
export type Executor = (argv: readonly string[], opts: { input?: string | Buffer; env: Record<string, string>; cwd: string; timeoutMs: number }) => Promise<CommandResult>;

export interface NodeHostOptions {
  readonly root: string;
  readonly dryRun?: boolean;
  readonly executor?: Executor;
}

const PATH_DIRS = GUEST_PATH.split(':');
const MAX_OUTPUT = 4 * 1024 * 1024;
const DEFAULT_READ_LIMIT = 64 * 1024 * 1024;

type Overlay = { data: Buffer; mode: number; uid: number; gid: number } | 'removed' | 'dir';

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Default executor: spawn with a hard timeout and bounded output. */
export const spawnExecutor: Executor = (argv, opts) =>
  new Promise((resolve, reject) => {
    const child = childProcess().spawn(argv[0] as string, argv.slice(1), { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < MAX_OUTPUT) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < MAX_OUTPUT) err.push(b);
      errLen += b.length;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ...(signal ? { signal } : {}) });
    });
    // A child that exits without reading its stdin must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });

export class NodeHost implements Host {
  readonly root: string;
  readonly dryRun: boolean;
  readonly live: boolean;
  private readonly executor: Executor;
  private readonly overlay = new Map<string, Overlay>();
  private readonly log: Change[] = [];

  constructor(opts: NodeHostOptions) {
    this.root = path.resolve(opts.root);
    this.dryRun = opts.dryRun ?? false;
    this.live = this.root === '/' && !this.dryRun;
    this.executor = opts.executor ?? spawnExecutor;
  }

  changes(): readonly Change[] {
    return this.log;
  }

  private resolve(guestPath: string, noSymlinkBelow?: string): string {
    return resolveInRootSync(this.root, guestPath, noSymlinkBelow !== undefined ? { noSymlinkBelow } : {}).hostPath;
  }

  async stat(guestPath: string): Promise<FileInfo | undefined> {
    const hostPath = this.resolve(guestPath);
    const o = this.overlay.get(hostPath);
    if (o === 'removed') return undefined;
    if (o === 'dir') return { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 };
    if (o) return { type: 'file', mode: o.mode, uid: o.uid, gid: o.gid, size: o.data.length };
    try {
      const s = lstatSync(hostPath);
      const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
      return { type, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, size: s.size };
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return undefined;
      throw new HostError(guestPath, 'cannot stat', { cause: err });
    }
  }

  async exists(guestPath: string): Promise<boolean> {
    return (await this.stat(guestPath)) !== undefined;
  }

  async readFile(guestPath: string, maxBytes = DEFAULT_READ_LIMIT): Promise<Buffer> {
    const hostPath = this.resolve(guestPath);
    const o = this.overlay.get(hostPath);
    if (o === 'removed' || o === 'dir') throw new HostError(guestPath, o === 'dir' ? 'is a directory' : 'no such file');
    if (o) return o.data;
    let data: Buffer;
    try {
      const s = statSync(hostPath);
      if (s.isFile() && s.size > maxBytes) throw new LimitError(guestPath, `file is ${s.size} bytes, more than the limit of ${maxBytes}`);
      data = readFileSync(hostPath);
    } catch (err) {
      if (err instanceof LimitError) throw err;
      throw new HostError(guestPath, errCode(err) === 'ENOENT' ? 'no such file' : 'cannot read', { cause: err });
    }
    if (data.length > maxBytes) throw new LimitError(guestPath, `file is more than the limit of ${maxBytes} bytes`);
    return data;
  }

  async readText(guestPath: string, maxBytes?: number): Promise<string> {
    return (await this.readFile(guestPath, maxBytes)).toString('utf8');
  }

  async readTextIfExists(guestPath: string, maxBytes?: number): Promise<string | undefined> {
    const info = await this.stat(guestPath);
    if (info === undefined) return undefined;
    return this.readText(guestPath, maxBytes);
  }

  async list(dir: string): Promise<string[]> {
    const hostPath = this.resolve(dir);
    let names: string[] = [];
    try {
      names = readdirSync(hostPath);
    } catch (err) {
      if (!(this.dryRun && this.overlay.get(hostPath) === 'dir')) {
        if (errCode(err) === 'ENOENT') return [];
        throw new HostError(dir, 'cannot list directory', { cause: err });
      }
    }
    const set = new Set(names);
    for (const [p, o] of this.overlay) {
      if (path.dirname(p) !== hostPath) continue;
      if (o === 'removed') set.delete(path.basename(p));
      else set.add(path.basename(p));
    }
    return [...set].sort();
  }

  private async ownerIds(owner: string | undefined, what: string): Promise<{ uid: number; gid: number }> {
    if (owner === undefined) return { uid: 0, gid: 0 };
    const [userName, groupName] = owner.split(':') as [string, string | undefined];
    const user = await this.lookupUser(userName);
    if (!user) throw new HostError(what, `owner ${userName} is not in the guest's /etc/passwd`);
    let gid = user.gid;
    if (groupName !== undefined && groupName !== '') {
      const g = parseGroupFile((await this.readTextIfExists('/etc/group')) ?? '').get(groupName)?.gid;
      if (g === undefined) throw new HostError(what, `group ${groupName} is not in the guest's /etc/group`);
      gid = g;
    }
    return { uid: user.uid, gid };
  }

  async lookupUser(name: string): Promise<GuestUser | undefined> {
    const text = (await this.readTextIfExists('/etc/passwd')) ?? '';
    return parsePasswd(text).find((u) => u.name === name);
  }

  async writeFile(guestPath: string, data: string | Buffer, opts: WriteOptions): Promise<boolean> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const hostPath = this.resolve(guestPath, opts.noSymlinkBelow);
    const { uid, gid } = await this.ownerIds(opts.owner, guestPath);
    const before = await this.stat(guestPath);
    const parent = path.posix.dirname(normaliseGuestPath(guestPath));
    // Missing parent directories are created as `install -D` would, owned by
    // root, no more open than the nearest existing ancestor (0700 under the state directory).
    if (!(await this.exists(parent))) await this.mkdir(parent, { mode: await this.inheritedMode(parent), ...(opts.noSymlinkBelow !== undefined ? { noSymlinkBelow: opts.noSymlinkBelow } : {}) });
    let old: Buffer | undefined;
    if (before?.type === 'file') old = await this.readFile(guestPath);
    if (old !== undefined && before && old.equals(buf) && before.mode === opts.mode && before.uid === uid && before.gid === gid) return false;
    this.log.push({ kind: 'write', path: guestPath, ...(old !== undefined ? { before: old } : {}), after: buf, mode: opts.mode, ...(opts.owner !== undefined ? { owner: opts.owner } : {}), secret: opts.secret ?? false });
    if (this.dryRun) {
      this.overlay.set(hostPath, { data: buf, mode: opts.mode, uid, gid });
      return true;
    }
    this.atomicWrite(hostPath, guestPath, buf, opts.mode, uid, gid);
    return true;
  }

  /** temp file in the same directory, fsync, chmod/chown, rename, fsync the directory. */
  private atomicWrite(hostPath: string, guestPath: string, buf: Buffer, mode: number, uid: number, gid: number): void {
    const dir = path.dirname(hostPath);
    const tmp = path.join(dir, `.${path.basename(hostPath)}.guestctx-${crypto().randomBytes(4).toString('hex')}`);
    let fd: number | undefined;
    try {
      // Created 0600 so nothing can read a secret before the final mode is set.
      fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fchownSync(fd, uid, gid);
      fchmodSync(fd, mode);
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      renameSync(tmp, hostPath);
    } catch (err) {
      const fdNow = fd;
      const extra = [
        fdNow !== undefined ? cleanupProblem('closing the temp file', () => closeSync(fdNow)) : undefined,
        cleanupProblem(`removing ${path.basename(tmp)}`, () => unlinkSync(tmp)),
      ].filter((x) => x !== undefined);
      throw new HostError(guestPath, `cannot write (${errCode(err) ?? 'error'}); the previous file is unchanged${extra.length ? `; ${extra.join('; ')}` : ''}`, { cause: err });
    }
    try {
      const dfd = openSync(dir, fsConstants.O_RDONLY);
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch (err) {
      // Some filesystems refuse fsync on a directory; the rename itself is done.
      if (errCode(err) !== 'EINVAL' && errCode(err) !== 'EISDIR') throw new HostError(path.dirname(guestPath), 'cannot sync directory', { cause: err });
    }
  }

  async mkdir(guestPath: string, opts: MkdirOptions): Promise<void> {
    const hostPath = this.resolve(guestPath, opts.noSymlinkBelow);
    const existing = await this.stat(guestPath);
    if (existing?.type === 'dir') {
      // Only tighten what we own: an existing directory keeps its mode unless
      // we were asked for an owner, which means it is ours to manage.
      if (opts.owner === undefined) return;
      const { uid, gid } = await this.ownerIds(opts.owner, guestPath);
      if (existing.uid === uid && existing.gid === gid && existing.mode === opts.mode) return;
      this.log.push({ kind: 'mkdir', path: guestPath, mode: opts.mode, owner: opts.owner });
      if (this.dryRun) return;
      chownSync(hostPath, uid, gid);
      chmodSync(hostPath, opts.mode);
      return;
    }
    if (existing) throw new HostError(guestPath, 'exists and is not a directory');
    const parent = path.posix.dirname(normaliseGuestPath(guestPath));
    if (parent !== guestPath && !(await this.exists(parent))) await this.mkdir(parent, { mode: await this.inheritedMode(parent) });
    const { uid, gid } = await this.ownerIds(opts.owner, guestPath);
    this.log.push({ kind: 'mkdir', path: guestPath, mode: opts.mode, ...(opts.owner !== undefined ? { owner: opts.owner } : {}) });
    if (this.dryRun) {
      this.overlay.set(hostPath, 'dir');
      return;
    }
    try {
      mkdirSync(hostPath, { mode: opts.mode });
      chownSync(hostPath, uid, gid);
      chmodSync(hostPath, opts.mode);
    } catch (err) {
      throw new HostError(guestPath, 'cannot create directory', { cause: err });
    }
  }

  /** Mode for a missing directory: its nearest existing ancestor's, never more than 0755. */
  private async inheritedMode(guestPath: string): Promise<number> {
    let p = path.posix.dirname(normaliseGuestPath(guestPath));
    for (;;) {
      const info = await this.stat(p);
      if (info?.type === 'dir') return info.mode & 0o755;
      if (p === '/') return 0o755;
      p = path.posix.dirname(p);
    }
  }

  async remove(guestPath: string): Promise<void> {
    const hostPath = resolveInRootSync(this.root, path.posix.dirname(normaliseGuestPath(guestPath))).hostPath;
    const target = path.join(hostPath, path.posix.basename(guestPath));
    if (!(await this.exists(guestPath))) return;
    this.log.push({ kind: 'remove', path: guestPath });
    if (this.dryRun) {
      this.overlay.set(target, 'removed');
      return;
    }
    rmSync(target, { force: true, recursive: true });
  }

  async which(command: string): Promise<string | undefined> {
    if (command.includes('/')) return (await this.exists(command)) ? command : undefined;
    for (const dir of PATH_DIRS) {
      const guest = `${dir}/${command}`;
      try {
        accessSync(this.resolve(guest), fsConstants.X_OK);
        return guest;
      } catch (err) {
        if (errCode(err) !== 'ENOENT' && errCode(err) !== 'EACCES' && errCode(err) !== 'ENOTDIR') throw new HostError(guest, 'cannot check', { cause: err });
      }
    }
    return undefined;
  }

  async run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const argv = [command, ...args];
    if (this.dryRun && !opts.readOnly) {
      this.log.push({ kind: 'command', argv, ran: false });
      return { code: 0, stdout: '', stderr: '' };
    }
    this.log.push({ kind: 'command', argv, ran: true });
    const env = { ...(opts.env ?? { PATH: GUEST_PATH, LANG: 'C.UTF-8' }) };
    const cwd = opts.cwd ?? '/';
    let full: string[];
    let hostCwd: string;
    if (this.root === '/') {
      full = argv;
      hostCwd = cwd;
    } else {
      // Offline: the program is the guest's own, run inside its root. env -C
      // sets the working directory after chroot without a shell in between.
      full = ['chroot', this.root, '/usr/bin/env', '-C', cwd, ...argv];
      hostCwd = '/';
    }
    try {
      return await this.executor(full, { ...(opts.input !== undefined ? { input: opts.input } : {}), env, cwd: hostCwd, timeoutMs: opts.timeoutMs ?? 120_000 });
    } catch (err) {
      const missing = errCode(err) === 'ENOENT';
      throw new HostError(command, missing ? 'command not found' : 'cannot start command', { cause: err });
    }
  }

  async localExists(absPath: string): Promise<boolean> {
    try {
      statSync(absPath);
      return true;
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return false;
      throw new HostError(absPath, 'cannot stat', { cause: err });
    }
  }

  async localRealpath(absPath: string): Promise<string> {
    return realpathSync(absPath);
  }

  async localIsDirectory(absPath: string): Promise<boolean> {
    try {
      return statSync(absPath).isDirectory();
    } catch (err) {
      throw new HostError(absPath, errCode(err) === 'ENOENT' ? 'no such file or directory' : 'cannot stat', { cause: err });
    }
  }

  async openBlock(absPath: string): Promise<OpenedBlock> {
    let fd: number;
    try {
      fd = openSync(absPath, fsConstants.O_RDONLY);
    } catch (err) {
      throw new HostError(absPath, errCode(err) === 'ENOMEDIUM' ? 'no medium in the drive' : 'cannot open for reading', { cause: err });
    }
    let size: number;
    try {
      const s = fstatSync(fd);
      size = s.isBlockDevice() ? blockDeviceSize(absPath) : s.size;
    } catch (err) {
      const extra = cleanupProblem('closing it', () => closeSync(fd));
      throw new HostError(absPath, `cannot find the size${extra ? `; ${extra}` : ''}`, { cause: err });
    }
    let open = true;
    const src: OpenedBlock = {
      name: absPath,
      size,
      async read(offset: number, length: number): Promise<Buffer> {
        if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`${absPath}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
        const buf = Buffer.alloc(length);
        let got = 0;
        while (got < length) {
          if (!open) throw new HostError(absPath, 'read after close');
          const bytesRead = readSync(fd, buf, got, length - got, offset + got);
          if (bytesRead === 0) throw new HostError(absPath, `short read at ${offset + got}`);
          got += bytesRead;
        }
        return buf;
      },
      async close(): Promise<void> {
        if (!open) return;
        open = false;
        closeSync(fd);
      },
    };
    return src satisfies BlockSource;
  }

  async openGuestBlock(guestPath: string): Promise<OpenedBlock> {
    return this.openBlock(this.resolve(guestPath));
  }

  async localReadText(absPath: string, maxBytes = 1024 * 1024): Promise<string | undefined> {
    try {
      const fd = openSync(absPath, fsConstants.O_RDONLY);
      try {
        const buf = Buffer.alloc(maxBytes);
        const bytesRead = readSync(fd, buf, 0, maxBytes, null);
        return buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if (errCode(err) === 'ENOENT') return undefined;
      throw new HostError(absPath, 'cannot read', { cause: err });
    }
  }

  localDirVolume(absPath: string, label: string): Volume {
    return dirVolume(absPath, label);
  }

  async localTempDir(prefix: string): Promise<string> {
    return mkdtempSync(path.join(tmpdir(), prefix));
  }

  async localRemoveDir(absPath: string): Promise<void> {
    rmSync(absPath, { recursive: true, force: true });
  }

  async fetch(url: string, req: HttpRequest): Promise<HttpResponse> {
    return httpFetch(url, req, req.maxRedirects ?? 3);
  }

  monotonicMs(): number {
    return performance.now();
  }
}

/**
 * Cleanup after a failure that is being reported already: it must not throw
 * over the first error, so what went wrong is returned for the message instead.
 */
function cleanupProblem(what: string, step: () => void): string | undefined {
  try {
    step();
    return undefined;
  } catch (err) {
    return errCode(err) === 'ENOENT' ? undefined : `${what} failed too (${errCode(err) ?? String(err)})`;
  }
}

/** Size of a block device from sysfs (stat reports 0 for devices). */
function blockDeviceSize(devPath: string): number {
  const real = realpathSync(devPath);
  const sectors = readFileSync(`/sys/class/block/${path.basename(real)}/size`, 'utf8');
  return Number(sectors.trim()) * 512;
}

function httpFetch(url: string, req: HttpRequest, redirectsLeft: number): Promise<HttpResponse> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    return Promise.reject(new HostError(url, 'not a valid URL', { cause: err }));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return Promise.reject(new HostError(url, `only http and https URLs are allowed, not ${parsed.protocol}`));
  }
  const lib = parsed.protocol === 'https:' ? https() : http();
  return new Promise((resolve, reject) => {
    const body = req.body === undefined ? undefined : Buffer.from(req.body);
    const r = lib.request(parsed, { method: req.method ?? 'GET', headers: { ...(req.headers ?? {}), ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        res.resume();
        clearTimeout(timer);
        if (redirectsLeft <= 0) return reject(new HostError(url, 'too many redirects'));
        const next = new URL(location, parsed).toString();
        httpFetch(next, req, redirectsLeft - 1).then(resolve, reject);
        return;
      }
      const chunks: Buffer[] = [];
      let len = 0;
      res.on('data', (b: Buffer) => {
        len += b.length;
        if (len > req.maxBytes) {
          r.destroy(new LimitError(url, `response is larger than ${req.maxBytes} bytes`));
          return;
        }
        chunks.push(b);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
        resolve({ status, headers, body: Buffer.concat(chunks), url });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof LimitError ? err : new HostError(url, 'response failed', { cause: err }));
      });
    });
    // One deadline for the whole exchange: connect, headers and body.
    const timer = setTimeout(() => r.destroy(new HostError(url, `no complete answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    r.on('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof HostError || err instanceof LimitError ? err : new HostError(url, `request failed (${errCode(err) ?? err.message})`, { cause: err }));
    });
    r.end(body);
  });
}
