// The ordered module registry. Order within a stage is the order of this list.
import type { AnyModule } from '../src/types';
import { boothooks } from './boothooks';
import { bootcmd, runcmd } from './commands';
import { finalMessage } from './final-message';
import { growpart } from './growpart';
import { hepixEpilog, hepixProlog } from './hepix';
import { hostname } from './hostname';
import { initScripts } from './init-scripts';
import { mounts } from './mounts';
import { passwords } from './passwords';
import { phoneHome } from './phone-home';
import { powerState } from './power-state';
import { reportReady } from './report-ready';
import { sshHostKeys } from './ssh-host-keys';
import { locale, timezone } from './timezone-locale';
import { scriptsPerBoot, scriptsPerInstance, scriptsPerOnce } from './scripts-dirs';
import { network } from './network';
import { sshAuthorizedKeys } from './ssh-authorized-keys';
import { userScripts } from './user-scripts';
import { usersGroups, usersPasswordReset } from './users-groups';
import { writeFiles, writeFilesDeferred } from './write-files';

export const MODULES: readonly AnyModule[] = [
  // local stage
  network,
  hostname,
  bootcmd,
  boothooks,
  hepixProlog,
  // network stage
  usersGroups,
  usersPasswordReset,
  passwords,
  timezone,
  locale,
  writeFiles,
  sshHostKeys,
  sshAuthorizedKeys,
  growpart,
  mounts,
  // final stage
  writeFilesDeferred,
  scriptsPerOnce,
  scriptsPerBoot,
  scriptsPerInstance,
  runcmd,
  userScripts,
  initScripts,
  hepixEpilog,
  reportReady,
  phoneHome,
  finalMessage,
  powerState,
];
