// Boot one guest under qemu and wait for it to power itself off, with a hard
// time limit: on timeout qemu is killed and the caller gets the console tail.
// The serial console (ttyS0) is the process's stdout (-nographic).
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { log } from './proc.mjs';

export const KERNEL_APPEND = 'root=/dev/vda rw console=ttyS0 edd=off';

/**
 * nics: [{ mac, net?: 'a.b.c.d/nn', extra?: 'guestfwd=...' }], each its own
 * user-mode network (slirp: DHCP .15, gateway .2, DNS .3 of its subnet).
 */
export function qemuArgs({ kernel, initrd, disk, seedIso, nics, accel = 'tcg', memMiB = 1024, cpus = 2, append = KERNEL_APPEND, snapshot = false, smbios = [] }) {
  const args = [
    '-accel', accel === 'kvm' ? 'kvm' : 'tcg,thread=multi',
    '-m', String(memMiB), '-smp', String(cpus),
    '-nographic', '-no-reboot',
    '-kernel', kernel, '-initrd', initrd, '-append', append,
    '-drive', `file=${disk},format=raw,if=virtio`,
  ];
  // -snapshot: writes go to a temporary overlay, the image stays untouched.
  if (snapshot) args.push('-snapshot');
  // SMBIOS strings: the local evidence (DMI) a cloud's datasource looks for.
  for (const t of smbios ?? []) args.push('-smbios', t);
  if (seedIso) args.push('-drive', `file=${seedIso},media=cdrom,if=ide,readonly=on`);
  nics.forEach((nic, i) => {
    const opts = [`user,id=n${i}`];
    if (nic.net) opts.push(`net=${nic.net}`);
    if (nic.extra) opts.push(nic.extra);
    args.push('-netdev', opts.join(','), '-device', `virtio-net-pci,netdev=n${i},mac=${nic.mac}`);
  });
  return args;
}

/**
 * Boot and wait. Resolves { code, timedOut, wallMs, console } — never rejects
 * for guest trouble, so the caller can report the console tail.
 * watch: optional (text) => boolean; when it returns true qemu is killed and
 * the result has watched: true (used by the KVM probe).
 */
export function boot(opts, { timeoutMs = 300_000, consoleLog, watch } = {}) {
  const args = qemuArgs(opts);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = consoleLog ? createWriteStream(consoleLog) : undefined;
    let text = '';
    let timedOut = false;
    let watched = false;
    const timer = setTimeout(() => {
      timedOut = true;
      log(`qemu: no power-off after ${timeoutMs / 1000} s, killing it`);
      child.kill('SIGKILL');
    }, timeoutMs);
    const onData = (chunk) => {
      const s = chunk.toString('utf8');
      text += s;
      out?.write(chunk);
      if (watch && !watched && watch(text)) {
        watched = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`qemu-system-x86_64 did not start: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      out?.end();
      resolve({ code, signal, timedOut, watched, wallMs: Date.now() - started, console: text, args });
    });
  });
}

/** The last n lines of a console text, for failure messages. */
export function tail(text, n = 40) {
  return text.replace(/\r/g, '').split('\n').slice(-n).join('\n');
}

/**
 * Whether KVM boots this kernel quickly here. Nested KVM on these machines
 * hangs early (VM-NOTES.md), so the probe gives it probeMs to reach the
 * initramfs and otherwise settles on TCG.
 */
export async function probeKvm({ kernel, initrd, disk, probeMs = 20_000 }) {
  if (!existsSync('/dev/kvm')) return { usable: false, why: 'no /dev/kvm' };
  const r = await boot(
    { kernel, initrd, disk, nics: [], accel: 'kvm', append: `${KERNEL_APPEND} panic=-1`, snapshot: true },
    { timeoutMs: probeMs, watch: (t) => /Run \/init as init process|Freeing unused kernel/.test(t) },
  );
  if (r.watched) return { usable: true, why: `kernel reached init in ${r.wallMs} ms under KVM` };
  return { usable: false, why: r.timedOut ? `no init within ${probeMs / 1000} s under KVM (nested KVM hangs)` : `qemu exited (${r.code}): ${tail(r.console, 3)}` };
}

export function readConsole(p) {
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}
