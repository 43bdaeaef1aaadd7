// The ordered module registry. Order within a stage is the order of this list.
import type { AnyModule } from '../src/types';
import { growpart } from './growpart';
import { hostname } from './hostname';
import { mounts } from './mounts';
import { passwords } from './passwords';
import { network } from './network';
import { sshAuthorizedKeys } from './ssh-authorized-keys';
import { userScripts } from './user-scripts';
import { usersGroups, usersPasswordReset } from './users-groups';

export const MODULES: readonly AnyModule[] = [network, hostname, usersGroups, usersPasswordReset, passwords, sshAuthorizedKeys, growpart, mounts, userScripts];
