// Scenario 4: an EC2 instance metadata service (IMDSv2) on the host's
// 127.0.0.1, offered to the guest at 169.254.169.254 through qemu's guestfwd
// (the user network must contain that address: net=169.254.0.0/16, so the
// guest leases 169.254.2.15/16). The guest's DMI says "Amazon EC2" (qemu
// -smbios), the local evidence the ec2 datasource requires before it touches
// the network. Proves: no local medium -> DHCP fallback in the local stage ->
// the network stage finds the service, takes instance id, hostname and
// user-data from it (with a token, as IMDSv2 requires) -> the script runs.
const MAC = '02:00:a9:fe:02:0f';
const INSTANCE = 'i-0123456789abcdef0';

const USER_DATA = `#!/bin/sh
mkdir -p /var/lib/vm-marker
echo "ec2 user-data ran" > /var/lib/vm-marker/user-data
`;

export default (env) => ({
  name: 'ec2-metadata',
  title: 'EC2 metadata service (IMDSv2) via guestfwd: instance id, hostname, user-data',
  ...(env.datasources.includes('ec2') ? {} : { pending: 'the ec2 datasource is not registered in datasources/index.ts yet' }),
  boots: [
    {
      label: 'first boot',
      nics: [{ mac: MAC, net: '169.254.0.0/16', metadata: 'ec2' }],
      smbios: ['type=1,manufacturer=Amazon EC2,product=t3.micro'],
      ec2Metadata: {
        'meta-data/instance-id': INSTANCE,
        'meta-data/local-hostname': 'ip-169-254-2-15.ec2.internal',
        'meta-data/placement/availability-zone': 'us-east-1a',
        [`meta-data/network/interfaces/macs/${MAC}/local-ipv4s`]: '169.254.2.15',
        [`meta-data/network/interfaces/macs/${MAC}/device-number`]: '0',
        'user-data': USER_DATA,
      },
      expect: {
        hostname: ['ip-169-254-2-15', 'ip-169-254-2-15.ec2.internal'],
        addresses: [{ mac: MAC, address: '169.254.2.15', prefix: 16, dynamic: true }],
        files: [{ path: '/var/lib/vm-marker/user-data', equals: 'ec2 user-data ran\n' }],
        status: { datasource: 'ec2', instanceId: INSTANCE, stages: { network: 'ok', final: 'ok' } },
        statusWait: { maxSeconds: 10 },
        units: { active: ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'] },
        metadataRequests: { tokenPut: true, paths: ['/latest/meta-data/instance-id', '/latest/user-data'] },
      },
    },
  ],
});
