// Scenario 1: an OpenNebula context CD (ISO labelled CONTEXT with context.sh)
// on a guest with two NICs. Proves the whole path on a real Debian boot:
// detection of the CD, network configuration matched by MAC (not by NIC
// order: the NIC the context calls ETH0 is the guest's SECOND PCI NIC), the
// hostname, the SSH key with safe modes, START_SCRIPT_BASE64 run once with
// the context variables in its environment, every stage ok, and the time each
// guestctx unit took.
//
// Networks (each NIC is its own qemu user-mode network):
//   ETH0 = MAC 02:00:0a:00:02:0f on 10.0.2.0/24 (slirp: gateway .2, DNS .3):
//          static 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3 (the address
//          slirp would lease anyway, so the guest keeps working).
//   ETH1 = MAC 02:00:c0:a8:64:14 on 192.168.100.0/24: static 192.168.100.20/24,
//          no gateway (a second subnet, to see the right address land on the
//          right NIC and no second default route appear).
import { readFileSync } from 'node:fs';
import { base64, contextSh } from '../lib/seed.mjs';

export const KEY = readFileSync(new URL('../../fixtures/vm/keys/id_ed25519.pub', import.meta.url), 'utf8').trim();
export const ETH0_MAC = '02:00:0a:00:02:0f';
export const ETH1_MAC = '02:00:c0:a8:64:14';
// PCI order: the ETH1 NIC first, so matching by order would swap them.
export const NICS = [
  { mac: ETH1_MAC, net: '192.168.100.0/24' },
  { mac: ETH0_MAC, net: '10.0.2.0/24' },
];
export const HOSTNAME = 'ctx-one';

// The start script counts its runs and records what it saw; the harness
// reads these files from the disk after power-off.
export const START_SCRIPT = `#!/bin/sh
set -e
d=/var/lib/vm-marker
mkdir -p "$d"
n=$(cat "$d/count" 2>/dev/null || echo 0)
echo $((n + 1)) > "$d/count"
echo "$VMID" >> "$d/vmids"
id -un > "$d/ran-as"
echo "hostname at start script: $(hostname)" > "$d/start-script"
`;

/**
 * Who gets the key. USERNAME=root until the users/sudo module is registered;
 * then the scenario switches itself to a sudo user (one-context semantics:
 * USERNAME creates the user, USERNAME_SUDO=YES gives passwordless sudo).
 */
export function userFor(env) {
  if (env.modules.some((m) => /^users/.test(m))) return { name: 'alice', home: '/home/alice', uid: 1000, gid: 1000, sudo: true };
  return { name: 'root', home: '/root', uid: 0, gid: 0, sudo: false };
}

export function contextVars(env, { vmid = '41' } = {}) {
  const user = userFor(env);
  return {
    DISK_ID: '1',
    ETH0_DNS: '10.0.2.3',
    ETH0_GATEWAY: '10.0.2.2',
    ETH0_IP: '10.0.2.15',
    ETH0_MAC,
    ETH0_MASK: '255.255.255.0',
    ETH0_NETWORK: '10.0.2.0',
    ETH1_IP: '192.168.100.20',
    ETH1_MAC,
    ETH1_MASK: '255.255.255.0',
    ETH1_NETWORK: '192.168.100.0',
    NETWORK: 'YES',
    SET_HOSTNAME: HOSTNAME,
    SSH_PUBLIC_KEY: KEY,
    START_SCRIPT_BASE64: base64(START_SCRIPT),
    TARGET: 'hdb',
    USERNAME: user.name,
    ...(user.sudo ? { USERNAME_SUDO: 'YES' } : {}),
    VMID: vmid,
  };
}

/** Checks that hold after every boot with this context (first or later). */
export function contextExpect(env, { count, vmids, instanceId }) {
  const user = userFor(env);
  return {
    hostname: HOSTNAME,
    addresses: [
      { mac: ETH0_MAC, address: '10.0.2.15', prefix: 24, dynamic: false },
      { mac: ETH1_MAC, address: '192.168.100.20', prefix: 24, dynamic: false },
    ],
    defaultRoute: { via: '10.0.2.2', mac: ETH0_MAC },
    resolvContains: ['nameserver 10.0.2.3'],
    files: [
      { path: `${user.home}/.ssh`, type: 'dir', mode: 0o700, uid: user.uid, gid: user.gid },
      { path: `${user.home}/.ssh/authorized_keys`, type: 'file', mode: 0o600, uid: user.uid, gid: user.gid, contains: [KEY] },
      { path: '/var/lib/vm-marker/count', equals: `${count}\n` },
      { path: '/var/lib/vm-marker/vmids', equals: vmids.map((v) => `${v}\n`).join('') },
      { path: '/var/lib/vm-marker/ran-as', equals: 'root\n' },
      { path: '/var/lib/guestctx', type: 'dir', mode: 0o700, uid: 0 },
      { path: '/var/log/guestctx.log', type: 'file', mode: 0o600, uid: 0 },
    ],
    status: {
      datasource: 'opennebula',
      instanceId,
      stages: { local: 'ok', network: 'ok', final: 'ok' },
    },
    statusWait: { maxSeconds: 10 },
    units: { active: ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'] },
    check: ({ report }) => {
      const out = [];
      if (user.sudo) {
        const sudo = report[`sudo-${user.name}`] ?? '';
        if (!/NOPASSWD:\s*ALL/.test(sudo)) out.push(`sudo -l -U ${user.name} shows no NOPASSWD: ALL rule:\n${sudo}`);
      }
      return out;
    },
  };
}

export default (env) => ({
  name: 'opennebula-cd',
  title: 'OpenNebula context CD: two NICs by MAC, hostname, SSH key, START_SCRIPT_BASE64',
  boots: [
    {
      label: 'first boot',
      nics: NICS,
      seed: { label: 'CONTEXT', files: { 'context.sh': contextSh(contextVars(env)) } },
      expect: {
        ...contextExpect(env, { count: 1, vmids: ['41'], instanceId: '41' }),
      },
    },
  ],
});
