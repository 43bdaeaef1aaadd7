// The ordered datasource registry: local media first (cheap, certain), then
// network services (probed only with local evidence and a hard budget).
// HEPiX and StratusLab CDs also carry context.sh, so they are tried before
// plain OpenNebula, which would otherwise claim them.
import type { Datasource } from '../src/types';
import { configDrive } from './configdrive';
import { ec2 } from './ec2';
import { hepix } from './hepix';
import { noCloud } from './nocloud';
import { openNebula } from './opennebula';
import { openstackMetadata } from './openstack-metadata';
import { stratusLab } from './stratuslab';
import { vmwareGuestinfo } from './vmware-guestinfo';

export const DATASOURCES: readonly Datasource[] = [hepix, stratusLab, openNebula, vmwareGuestinfo, configDrive, noCloud, ec2, openstackMetadata];

/** Names accepted for ds= and --datasource that are spellings of a registered one. */
const ALIASES: Readonly<Record<string, string>> = { 'nocloud-net': 'nocloud', 'config-drive': 'configdrive', 'config_drive': 'configdrive', 'openstack-configdrive': 'configdrive', one: 'opennebula', vmware: 'vmware-guestinfo', openstack_metadata: 'openstack', aws: 'ec2' };

export function canonicalDatasourceName(name: string): string {
  const lower = name.toLowerCase();
  return ALIASES[lower] ?? lower;
}

export function findDatasource(name: string): Datasource | undefined {
  const canon = canonicalDatasourceName(name);
  return DATASOURCES.find((d) => d.name === canon);
}
