// A minimal Debian-like guest root (the users and files a cloud image ships,
// one NIC, ifupdown) and a NoCloud seed folder. Used by `npm run demo` and by
// the build, which runs the bundle on them to train the code cache.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The MAC the examples' ETH0_MAC and the sample NoCloud network-config name. */
export const SAMPLE_MAC = '02:00:0a:00:00:17';

function put(root, rel, content, mode = 0o644) {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content, { mode });
}

export function makeSampleRoot(root) {
  put(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000:Debian:/home/debian:/bin/bash\n');
  put(root, 'etc/group', 'root:x:0:\nsudo:x:27:debian\ndebian:x:1000:\n');
  put(root, 'etc/hostname', 'localhost\n');
  put(root, 'etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  mkdirSync(path.join(root, 'home/debian'), { recursive: true });
  mkdirSync(path.join(root, 'sys/class/net/eth0/device'), { recursive: true });
  put(root, 'sys/class/net/eth0/address', `${SAMPLE_MAC}\n`);
  put(root, 'sys/class/net/eth0/carrier', '1\n');
  put(root, 'sbin/ifup', '#!/bin/sh\n', 0o755);
  return root;
}

/** A NoCloud seed folder: meta-data, a cloud-config user-data and a v2 network-config. */
export function makeNoCloudSeed(dir) {
  put(dir, 'meta-data', 'instance-id: iid-sample-01\nlocal-hostname: sample\n');
  put(
    dir,
    'user-data',
    [
      '#cloud-config',
      'hostname: sample',
      'users:',
      '  - default',
      'ssh_authorized_keys:',
      '  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID7EabcGIBhHST2sG+x7BFe+gxudNLu4moZZnyTmWRdZ sample',
      'write_files:',
      '  - path: /etc/sample',
      '    permissions: "0644"',
      '    content: written from user-data',
      'runcmd:',
      '  - [sh, -c, "echo hello"]',
      '',
    ].join('\n'),
  );
  put(dir, 'network-config', `version: 2\nethernets:\n  id0:\n    match:\n      macaddress: "${SAMPLE_MAC}"\n    addresses: [192.0.2.10/24]\n    routes:\n      - to: default\n        via: 192.0.2.1\n`);
  return dir;
}
