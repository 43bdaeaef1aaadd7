// A guest without the tools some modules need (groupadd/useradd, ssh-keygen):
// each such module fails with an error naming the missing tool, and every
// other module still runs. With stand-ins for the tools present (commands
// recorded, not run), the same modules get past the check and call them.
// (resize2fs and mkfs belong to growpart and disk setup, which skip offline
// runs before looking for tools: "needs the running guest".)
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/log/logger';
import type { ModuleStatus } from '../../src/state/state';
import { runPipeline } from '../../src/pipeline';
import { hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';
import { ALICE_KEY, contextSeed } from './seed';

let root: TempRoot | undefined;
afterEach(() => {
  root?.cleanup();
  root = undefined;
});

const USER_DATA = '#cloud-config\nusers: [default, {name: carol, groups: [adm]}]\n';

async function runAll(r: TempRoot, executor?: ReturnType<typeof recorder>['executor']): Promise<Record<string, ModuleStatus>> {
  r.write('etc/ssh/sshd_config', '# OpenSSH server present\n');
  const seed = contextSeed({ SET_HOSTNAME: 'web-03', SSH_PUBLIC_KEY: ALICE_KEY, USER_DATA });
  const result = await runPipeline({ host: hostOn(r, executor ? { executor } : {}), log: memoryLogger(), stages: ['local', 'network', 'final'], seed });
  // A module listed again in a later stage keeps its first real result.
  const mods: Record<string, ModuleStatus> = {};
  for (const o of result.outcomes) for (const [n, m] of Object.entries(o.status.modules)) if (mods[n] === undefined || mods[n]?.reason === 'nothing to configure') mods[n] = m;
  return mods;
}

describe('missing tools', () => {
  it('each module that needs a missing tool fails naming it; the others run', async () => {
    root = makeTempRoot();
    const mods = await runAll(root);
    expect(mods['users-groups']?.result).toBe('failed');
    expect(mods['users-groups']?.error).toMatch(/(groupadd|useradd) is not installed in the guest/);
    expect(mods['ssh-host-keys']?.result).toBe('failed');
    expect(mods['ssh-host-keys']?.error).toMatch(/ssh-keygen is not installed in the guest/);
    // Everything else that had work to do did it.
    expect(mods.hostname?.result).toBe('ok');
    expect(mods['ssh-authorized-keys']?.result).toBe('ok');
    expect(root.read('etc/hostname')).toBe('web-03\n');
    expect(root.read('root/.ssh/authorized_keys')).toContain('alice@example.org');
    for (const [name, m] of Object.entries(mods)) {
      if (m.result === 'failed') expect(m.error, name).toMatch(/is not installed|does not exist in the guest/);
    }
  });

  it('with the tools present (recorded stand-ins) the same modules call them instead', async () => {
    root = makeTempRoot();
    for (const tool of ['groupadd', 'useradd', 'usermod', 'ssh-keygen']) root.write(`usr/sbin/${tool}`, '#!/bin/sh\n', 0o755);
    // ssh-keygen needs /dev/null inside the root to run chrooted; a stand-in file is enough here.
    root.write('dev/null', '');
    const rec = recorder();
    const mods = await runAll(root, rec.executor);
    expect(mods['users-groups']?.error ?? '').not.toMatch(/not installed/);
    expect(mods['ssh-host-keys']?.error ?? '').not.toMatch(/not installed/);
    const programs = rec.calls.map((argv) => argv.find((a) => /\/(groupadd|useradd|ssh-keygen)$/.test(a)) ?? '');
    expect(programs.some((p) => /useradd|groupadd/.test(p))).toBe(true);
    expect(programs.some((p) => p.endsWith('ssh-keygen'))).toBe(true);
  });
});
