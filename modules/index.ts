// The ordered module registry. Order within a stage is the order of this list.
import type { AnyModule } from '../src/types';
import { hostname } from './hostname';
import { sshAuthorizedKeys } from './ssh-authorized-keys';
import { userScripts } from './user-scripts';

export const MODULES: readonly AnyModule[] = [hostname, sshAuthorizedKeys, userScripts];
