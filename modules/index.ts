// The ordered module registry. Order within a stage is the order of this list.
import type { AnyModule } from '../src/types';
import { boothooks } from './boothooks';
import { growpart } from './growpart';
import { hepixEpilog, hepixProlog } from './hepix';
import { hostname } from './hostname';
import { initScripts } from './init-scripts';
import { mounts } from './mounts';
import { passwords } from './passwords';
import { scriptsPerBoot, scriptsPerInstance, scriptsPerOnce } from './scripts-dirs';
import { network } from './network';
import { sshAuthorizedKeys } from './ssh-authorized-keys';
import { userScripts } from './user-scripts';
import { usersGroups, usersPasswordReset } from './users-groups';

export const MODULES: readonly AnyModule[] = [
  // local stage
  network,
  hostname,
  boothooks,
  hepixProlog,
  // network stage
  usersGroups,
  usersPasswordReset,
  passwords,
  sshAuthorizedKeys,
  growpart,
  mounts,
  // final stage
  scriptsPerOnce,
  scriptsPerBoot,
  scriptsPerInstance,
  userScripts,
  initScripts,
  hepixEpilog,
];
