// Scenario 6: a guest with no datasource at all (no CD, plain user-mode
// network). guestctx must stay out of the way: its three units add only a few
// seconds, the network falls back to DHCP on the NIC, status says
// no-datasource for every stage, and `guestctx status --wait` returns at once.
export const MAC = '02:00:0a:00:02:0f';

export default () => ({
  name: 'no-datasource',
  title: 'No datasource: few seconds of guestctx, DHCP fallback, status no-datasource, status --wait returns',
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
        // Wall time of the three units, process starts included. Under TCG the
        // 87 MB executable takes ~7 s to start from a cold page cache and ~2.5 s
        // warm (measured: 9.9 + 3.2 + 3.0 s, of which 1.4 + 0.6 + 0.35 s work).
        units: { active: ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'], maxGuestctxSeconds: { tcg: 20, kvm: 6 } },
        files: [{ path: '/var/lib/vm-marker', absent: true }],
      },
    },
  ],
});
