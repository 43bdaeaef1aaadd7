// Scenario 9: scenario 1's context on a guest that brings its network up with
// systemd-networkd (enabled, with networking.service disabled), as a
// networkd-based image does. guestctx must choose the networkd renderer by
// itself (the unit is enabled) and the guest must come up with the static
// addresses on the NICs matched by MAC. Proves the networkd renderer on a real
// boot, next to scenario 7's ifupdown.
import { contextSh } from '../lib/seed.mjs';
import { disableGuestUnit, enableGuestUnit } from '../lib/guest-image.mjs';
import { NICS, contextExpect, contextVars } from './01-opennebula-cd.mjs';

export default (env) => {
  const base = contextExpect(env, { count: 1, vmids: ['41'], instanceId: '41' });
  return {
    name: 'opennebula-networkd',
    title: 'OpenNebula context CD on a systemd-networkd guest: the networkd renderer chosen and applied',
    boots: [
      {
        label: 'first boot, systemd-networkd',
        nics: NICS,
        prepare: (mnt) => {
          disableGuestUnit(mnt, 'networking.service');
          enableGuestUnit(mnt, 'multi-user.target', '/lib/systemd/system/systemd-networkd.service');
        },
        seed: { label: 'CONTEXT', files: { 'context.sh': contextSh(contextVars(env)) } },
        expect: {
          ...base,
          files: [...base.files, { path: '/etc/systemd/network/10-guestctx-ens4.network', type: 'file', contains: ['10.0.2.15/24'] }],
          status: { ...base.status, modules: { network: 'ok' } },
        },
      },
    ],
  };
};
