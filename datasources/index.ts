// The ordered datasource registry: local media first (cheap, certain), then
// network services (probed only with local evidence and a hard budget).
import type { Datasource } from '../src/types';
import { openNebula } from './opennebula';

export const DATASOURCES: readonly Datasource[] = [openNebula];

export function findDatasource(name: string): Datasource | undefined {
  return DATASOURCES.find((d) => d.name === name.toLowerCase());
}
