// Scenario 7: scenario 1's context with NETCFG_TYPE=interfaces, so the
// network is written for ifupdown (/etc/network/interfaces.d/guestctx) next
// to the guest's own /etc/network/interfaces, and brought up by the guest's
// own networking.service. Proves the ifupdown renderer on a real Debian boot
// (the stack a stock Debian guest actually runs) independently of the
// automatic renderer choice.
import { contextSh } from '../lib/seed.mjs';
import { NICS, contextExpect, contextVars } from './01-opennebula-cd.mjs';

export default (env) => {
  const base = contextExpect(env, { count: 1, vmids: ['41'], instanceId: '41' });
  return {
    name: 'opennebula-ifupdown',
    title: 'OpenNebula context CD with NETCFG_TYPE=interfaces: the ifupdown renderer on a real Debian',
    boots: [
      {
        label: 'first boot, ifupdown',
        nics: NICS,
        seed: { label: 'CONTEXT', files: { 'context.sh': contextSh({ ...contextVars(env), NETCFG_TYPE: 'interfaces' }) } },
        expect: {
          ...base,
          files: [
            ...base.files,
            { path: '/etc/network/interfaces.d/guestctx', type: 'file', contains: ['10.0.2.15', '192.168.100.20'] },
          ],
          status: { ...base.status, modules: { network: 'ok' } },
          units: { active: [...base.units.active, 'networking.service'] },
        },
      },
    ],
  };
};
