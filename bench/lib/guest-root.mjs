// Guest roots for the benchmarks: the same minimal Debian tree as
// test/helpers/temp-root.ts (passwd, group, hosts, hostname, a home, NICs under
// /sys/class/net, ifupdown), written once as a template and copied with cp -a
// before each run so the copy is never inside the timed window.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PASSWD = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
debian:x:1000:1000:Debian:/home/debian:/bin/bash
`;
const GROUP = `root:x:0:
daemon:x:1:
sudo:x:27:debian
debian:x:1000:
`;

/** The default NIC: the MAC the OpenNebula and NoCloud fixtures configure. */
export const DEFAULT_NICS = [{ name: 'eth0', mac: '02:00:0a:00:00:17' }];

function put(dir, rel, content, mode = 0o644) {
  const p = path.join(dir, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}

/** Write a template guest root into a new temp folder; nics = [{name, mac}]. */
export function makeTemplateRoot(nics = DEFAULT_NICS) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-bench-tpl-'));
  put(dir, 'etc/passwd', PASSWD);
  put(dir, 'etc/group', GROUP);
  put(dir, 'etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  put(dir, 'etc/hostname', 'debian\n');
  mkdirSync(path.join(dir, 'root'), { mode: 0o700 });
  mkdirSync(path.join(dir, 'home/debian'), { recursive: true, mode: 0o755 });
  for (const nic of nics) {
    put(dir, `sys/class/net/${nic.name}/address`, `${nic.mac}\n`);
    put(dir, `sys/class/net/${nic.name}/carrier`, '1\n');
    mkdirSync(path.join(dir, `sys/class/net/${nic.name}/device`), { recursive: true });
  }
  put(dir, 'sbin/ifup', '#!/bin/sh\n', 0o755);
  mkdirSync(path.join(dir, 'etc/network/interfaces.d'), { recursive: true });
  return dir;
}

/** A fresh copy of a template (modes and owners kept); remove it with dropRoot. */
export function freshRoot(template) {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'guestctx-bench-root-'));
  const dir = path.join(parent, 'root');
  execFileSync('cp', ['-a', template, dir]);
  return dir;
}

export function dropRoot(dir) {
  rmSync(path.dirname(dir), { recursive: true, force: true });
}
