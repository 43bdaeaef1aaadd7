// A throwaway guest root for tests: a temp folder with the files a minimal
// Debian guest has (/etc/passwd, /etc/group, /etc/hosts), and a recording
// executor so commands are observed instead of run.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, lstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { CommandResult } from '../../src/host/host';
import { NodeHost, type Executor } from '../../src/host/node-host';

export interface TempRoot {
  readonly dir: string;
  file(p: string): string;
  read(p: string): string;
  write(p: string, content: string, mode?: number): void;
  mode(p: string): number;
  cleanup(): void;
}

const PASSWD = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
debian:x:1000:1000:Debian:/home/debian:/bin/bash
`;
const GROUP = `root:x:0:
daemon:x:1:
sudo:x:27:debian
debian:x:1000:
`;

export function makeTempRoot(opts: { minimal?: boolean } = {}): TempRoot {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-root-'));
  const root: TempRoot = {
    dir,
    file: (p) => path.join(dir, p),
    read: (p) => readFileSync(path.join(dir, p), 'utf8'),
    write: (p, content, mode = 0o644) => {
      mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
      writeFileSync(path.join(dir, p), content, { mode });
    },
    mode: (p) => statSync(path.join(dir, p)).mode & 0o7777,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (!opts.minimal) {
    root.write('etc/passwd', PASSWD);
    root.write('etc/group', GROUP);
    root.write('etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    root.write('etc/hostname', 'debian\n');
    mkdirSync(path.join(dir, 'root'), { mode: 0o700 });
    mkdirSync(path.join(dir, 'home/debian'), { recursive: true, mode: 0o755 });
    // One virtio NIC (the MAC of the OpenNebula fixtures' ETH0) and ifupdown, like a Debian 12 cloud image.
    root.write('sys/class/net/eth0/address', '02:00:0a:00:00:17\n');
    root.write('sys/class/net/eth0/carrier', '1\n');
    mkdirSync(path.join(dir, 'sys/class/net/eth0/device'), { recursive: true });
    root.write('sbin/ifup', '#!/bin/sh\n', 0o755);
    mkdirSync(path.join(dir, 'etc/network/interfaces.d'), { recursive: true });
  }
  return root;
}

export interface Recorder {
  readonly calls: (readonly string[])[];
  readonly executor: Executor;
}

/** Records every command; `answer` decides the result (default: exit 0, no output). */
export function recorder(answer?: (argv: readonly string[]) => CommandResult | undefined): Recorder {
  const calls: (readonly string[])[] = [];
  return {
    calls,
    executor: async (argv) => {
      calls.push(argv);
      return answer?.(argv) ?? { code: 0, stdout: '', stderr: '' };
    },
  };
}

export function hostOn(root: TempRoot, opts: { dryRun?: boolean; executor?: Executor } = {}): NodeHost {
  return new NodeHost({ root: root.dir, ...opts });
}

/** sha256 of every file, link and directory mode in a tree: for "nothing changed" checks. */
export function hashTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const s = lstatSync(p);
      h.update(`${path.relative(dir, p)}\0${s.mode}\0${s.uid}\0`);
      if (s.isDirectory()) walk(p);
      else if (s.isFile()) h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}
