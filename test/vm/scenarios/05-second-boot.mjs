// Scenario 5: later boots of scenario 1's disk. With the same context CD the
// per-instance work (START_SCRIPT) must not run again: the run counter stays
// at 1 while the "always" work (network, hostname) still holds. Then the same
// disk with the CD changed only in VMID (a new instance): the start script
// runs again (counter 2, and it saw the new VMID).
import { contextSh } from '../lib/seed.mjs';
import { NICS, contextExpect, contextVars } from './01-opennebula-cd.mjs';

export default (env) => ({
  name: 'second-boot',
  title: 'Second boot of scenario 1\'s disk: per-instance work once; a new VMID runs it again',
  after: 'opennebula-cd',
  boots: [
    {
      label: 'same CD again',
      disk: { from: 'opennebula-cd' },
      nics: NICS,
      seed: { label: 'CONTEXT', files: { 'context.sh': contextSh(contextVars(env)) } },
      expect: contextExpect(env, { count: 1, vmids: ['41'], instanceId: '41' }),
    },
    {
      label: 'new VMID 42',
      disk: 'previous',
      nics: NICS,
      seed: { label: 'CONTEXT', files: { 'context.sh': contextSh(contextVars(env, { vmid: '42' })) } },
      expect: contextExpect(env, { count: 2, vmids: ['41', '42'], instanceId: '42' }),
    },
  ],
});
