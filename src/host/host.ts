// The Host: the only door to files, processes, devices and the network.
// Datasources and modules take a Host and never import node:fs or
// node:child_process, so the same code configures "/" at boot, a mounted image
// with --root, a temp tree in tests, or nothing at all with --dry-run.
import type { BlockSource, Volume } from '../media/volume';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the process was killed by a signal (timeout included). */
  readonly signal?: string;
}

export interface RunOptions {
  readonly input?: string | Buffer;
  /** The complete environment of the child (a clean one is built when absent). */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory, a guest path. */
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /** The command only reads (e.g. `ssh-keygen -l`), so it also runs in --dry-run. */
  readonly readOnly?: boolean;
  /** The input carries a secret: never record or log it. */
  readonly secretInput?: boolean;
}

export interface WriteOptions {
  readonly mode: number;
  /** "user" or "user:group", looked up in the guest's own /etc/passwd and /etc/group. */
  readonly owner?: string;
  /**
   * A guest directory (e.g. a user's home): refuse the write if any path
   * component below it is a symlink, so a link planted by a user cannot
   * redirect a root-owned write elsewhere.
   */
  readonly noSymlinkBelow?: string;
  /** Content is secret: dry-run shows "(secret, N bytes)" instead of a diff. */
  readonly secret?: boolean;
}

export interface MkdirOptions {
  readonly mode: number;
  readonly owner?: string;
  readonly noSymlinkBelow?: string;
}

export interface GuestUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

export interface FileInfo {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
}

/** One change the host made (or would make in --dry-run). */
export type Change =
  | { readonly kind: 'write'; readonly path: string; readonly before?: Buffer; readonly after: Buffer; readonly mode: number; readonly owner?: string; readonly secret: boolean }
  | { readonly kind: 'mkdir'; readonly path: string; readonly mode: number; readonly owner?: string }
  | { readonly kind: 'remove'; readonly path: string }
  | { readonly kind: 'command'; readonly argv: readonly string[]; readonly ran: boolean };

export interface HttpRequest {
  readonly method?: 'GET' | 'PUT' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** Redirects followed at most (default 3). */
  readonly maxRedirects?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly url: string;
}

export interface OpenedBlock extends BlockSource {
  close(): Promise<void>;
}

export interface Host {
  /** Where the guest's "/" is on this machine. */
  readonly root: string;
  /** True when configuring the running system itself (root "/" and not a dry run). */
  readonly live: boolean;
  readonly dryRun: boolean;

  // Guest files (paths are guest paths, resolved inside the root).
  exists(path: string): Promise<boolean>;
  stat(path: string): Promise<FileInfo | undefined>;
  readFile(path: string, maxBytes?: number): Promise<Buffer>;
  readText(path: string, maxBytes?: number): Promise<string>;
  /** undefined when the file does not exist; other errors throw. */
  readTextIfExists(path: string, maxBytes?: number): Promise<string | undefined>;
  list(dir: string): Promise<string[]>;
  /** Atomic replace; returns false when the file already had this content, mode and owner. */
  writeFile(path: string, data: string | Buffer, opts: WriteOptions): Promise<boolean>;
  mkdir(path: string, opts: MkdirOptions): Promise<void>;
  remove(path: string): Promise<void>;
  lookupUser(name: string): Promise<GuestUser | undefined>;
  /** Absolute guest path of a command found in the guest's PATH directories, or undefined. */
  which(command: string): Promise<string | undefined>;
  /** Run a guest program (chrooted when the root is not "/"); refused or recorded in --dry-run. */
  run(command: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;

  // The machine guestctx runs on: devices and seeds are outside the guest root.
  localExists(absPath: string): Promise<boolean>;
  localRealpath(absPath: string): Promise<string>;
  localIsDirectory(absPath: string): Promise<boolean>;
  /** Open a block device or image file of the local machine for reading (never mounts). */
  openBlock(absPath: string): Promise<OpenedBlock>;
  /** Open a device node seen inside the guest root (e.g. /dev/sr0, or a fixture image standing for it). */
  openGuestBlock(guestPath: string): Promise<OpenedBlock>;
  /** Read a file of the local machine (/proc/mounts, /proc/sys/kernel/random/boot_id). */
  localReadText(absPath: string, maxBytes?: number): Promise<string | undefined>;
  /** A Volume over a local folder (a --seed folder, or a mount point). */
  localDirVolume(absPath: string, label: string): Volume;
  /** Make a private temporary directory on the local machine (for mount fallbacks). */
  localTempDir(prefix: string): Promise<string>;
  localRemoveDir(absPath: string): Promise<void>;

  fetch(url: string, req: HttpRequest): Promise<HttpResponse>;
  /** Monotonic milliseconds since this process started: a clock step at boot must not stretch a wait. */
  monotonicMs(): number;

  /** Everything written, removed or run so far, in order. */
  changes(): readonly Change[];
}
