// Scenario 2: an OpenStack config drive (ISO labelled config-2 with
// openstack/latest/meta_data.json, network_data.json and user_data). Proves
// detection of the drive, the hostname from meta_data.json, a static address
// from network_data.json matched by MAC, DNS from its services, and the
// user_data script run once in the final stage.
const MAC = '02:00:0a:00:02:0f';
const UUID = '8c3d6d52-3c6e-4bb5-9d9a-3b7c1f0e2a11';

const USER_DATA = `#!/bin/sh
mkdir -p /var/lib/vm-marker
echo "config drive user_data ran" > /var/lib/vm-marker/user-data
`;

export default (env) => ({
  name: 'config-drive',
  title: 'OpenStack config drive: hostname, static network by MAC, DNS, user_data script',
  ...(env.datasources.includes('configdrive') ? {} : { pending: 'the configdrive datasource is not registered in datasources/index.ts yet' }),
  boots: [
    {
      label: 'first boot',
      nics: [{ mac: MAC }],
      seed: {
        label: 'config-2',
        files: {
          'openstack/latest/meta_data.json': JSON.stringify({ uuid: UUID, name: 'cd-guest', hostname: 'cd-guest', availability_zone: 'nova', launch_index: 0 }),
          'openstack/latest/network_data.json': JSON.stringify({
            links: [{ id: 'tap0', type: 'phy', ethernet_mac_address: MAC, mtu: 1500 }],
            networks: [{
              id: 'network0', type: 'ipv4', link: 'tap0', network_id: 'n0',
              ip_address: '10.0.2.15', netmask: '255.255.255.0',
              routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.2' }],
            }],
            services: [{ type: 'dns', address: '10.0.2.3' }],
          }),
          'openstack/latest/user_data': USER_DATA,
        },
      },
      expect: {
        hostname: 'cd-guest',
        addresses: [{ mac: MAC, address: '10.0.2.15', prefix: 24, dynamic: false }],
        defaultRoute: { via: '10.0.2.2', mac: MAC },
        resolvContains: ['nameserver 10.0.2.3'],
        files: [{ path: '/var/lib/vm-marker/user-data', equals: 'config drive user_data ran\n' }],
        status: { datasource: 'configdrive', instanceId: UUID, stages: { local: 'ok', network: 'ok', final: 'ok' } },
        statusWait: { maxSeconds: 10 },
        units: { active: ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'] },
      },
    },
  ],
});
