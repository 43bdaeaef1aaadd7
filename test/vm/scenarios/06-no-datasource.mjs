// Scenario 6: a guest with no datasource at all (no CD, plain user-mode
// network). guestctx must stay out of the way: only its local unit starts (the
// network and final units are skipped by their condition, since nothing could
// find a datasource later), the network falls back to DHCP on the NIC, status
// says no-datasource for every stage, and `guestctx status --wait` returns at once.
export const MAC = '02:00:0a:00:02:0f';

export default () => ({
  name: 'no-datasource',
  title: 'No datasource: one unit runs, two skip; DHCP fallback, status no-datasource, status --wait returns',
  boots: [
    {
      label: 'boot without any datasource',
      nics: [{ mac: MAC }],
      expect: {
        hostname: 'vm-base',
        addresses: [{ mac: MAC, address: '10.0.2.15', prefix: 24, dynamic: true }],
        defaultRoute: { via: '10.0.2.2', mac: MAC },
        status: {
          datasource: null,
          stages: { local: 'no-datasource', network: 'no-datasource', final: 'no-datasource' },
          modules: { network: 'ok' },
          // guestctx's own work with nothing to do: a few seconds at most.
          maxStageMs: 3000,
        },
        statusWait: { maxSeconds: 5 },
        // Wall time of the one unit that runs, its process start included. Under
        // TCG the first start of the executable in a boot takes ~3 s (cold page
        // cache, busy early boot); measured ~4 s in all.
        units: { active: ['guestctx-local.service'], skipped: ['guestctx.service', 'guestctx-final.service'], maxGuestctxSeconds: { tcg: 12, kvm: 4 } },
        files: [{ path: '/var/lib/vm-marker', absent: true }],
      },
    },
  ],
});
