// Scenario 8: the context medium is labelled CONTEXT but is not ISO9660 or
// FAT (an ext4 image in the CD drive), so guestctx's user-space readers cannot
// read it. On the running guest it must fall back to a read-only kernel mount
// at a private temporary point, read context.sh, and unmount again. Proves the
// fallback path the build machines cannot (their kernels lack iso9660/vfat,
// and the readers normally succeed).
import { contextSh } from '../lib/seed.mjs';
import { NICS, contextExpect, contextVars } from './01-opennebula-cd.mjs';

export default (env) => {
  const base = contextExpect(env, { count: 1, vmids: ['41'], instanceId: '41' });
  return {
    name: 'kernel-mount-fallback',
    title: 'A CONTEXT medium the user-space readers cannot read: read-only kernel mount, then unmounted',
    boots: [
      {
        label: 'first boot, ext4 context medium',
        nics: NICS,
        seed: { label: 'CONTEXT', fs: 'ext4', files: { 'context.sh': contextSh(contextVars(env)) } },
        expect: {
          ...base,
          files: [
            ...base.files,
            // The fallback is logged, and every stage read the medium the same way.
            { path: '/var/log/guestctx.log', type: 'file', contains: ['trying a read-only kernel mount'] },
          ],
          check: (arg) => {
            const out = base.check(arg);
            const mounts = arg.report.mounts ?? arg.report['proc-mounts'] ?? '';
            if (/guestctx-medium-/.test(mounts)) out.push(`a guestctx mount point is still mounted:\n${mounts}`);
            return out;
          },
        },
      },
    ],
  };
};
