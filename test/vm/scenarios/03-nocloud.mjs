// Scenario 3: a NoCloud seed (ISO labelled cidata with meta-data, user-data
// and network-config version 2). Proves detection of the seed, instance id and
// hostname from meta-data, a static address from network-config matched by
// MAC, and the user-data script run in the final stage.
const MAC = '02:00:0a:00:02:0f';

const NETWORK_CONFIG = `version: 2
ethernets:
  nic0:
    match:
      macaddress: "${MAC}"
    addresses: [10.0.2.15/24]
    routes:
      - to: 0.0.0.0/0
        via: 10.0.2.2
    nameservers:
      addresses: [10.0.2.3]
`;

const USER_DATA = `#!/bin/sh
mkdir -p /var/lib/vm-marker
echo "nocloud user-data ran" > /var/lib/vm-marker/user-data
`;

export default (env) => ({
  name: 'nocloud',
  title: 'NoCloud cidata seed: instance id, hostname, network-config v2 by MAC, user-data script',
  ...(env.datasources.includes('nocloud') ? {} : { pending: 'the nocloud datasource is not registered in datasources/index.ts yet' }),
  boots: [
    {
      label: 'first boot',
      nics: [{ mac: MAC }],
      seed: {
        label: 'cidata',
        files: {
          'meta-data': 'instance-id: iid-vmtest-nocloud-1\nlocal-hostname: nc-guest\n',
          'user-data': USER_DATA,
          'network-config': NETWORK_CONFIG,
        },
      },
      expect: {
        hostname: 'nc-guest',
        addresses: [{ mac: MAC, address: '10.0.2.15', prefix: 24, dynamic: false }],
        defaultRoute: { via: '10.0.2.2', mac: MAC },
        resolvContains: ['nameserver 10.0.2.3'],
        files: [{ path: '/var/lib/vm-marker/user-data', equals: 'nocloud user-data ran\n' }],
        status: { datasource: 'nocloud', instanceId: 'iid-vmtest-nocloud-1', stages: { local: 'ok', network: 'ok', final: 'ok' } },
        statusWait: { maxSeconds: 10 },
        units: { active: ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'] },
      },
    },
  ],
});
