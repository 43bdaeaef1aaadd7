// Which network stack to write for: the source's NETCFG_TYPE hint when given,
// else the stack the distribution family prefers among those installed.
import { ConfigError } from '../errors';
import type { RendererHintType } from './model';
import type { RendererName } from './render-common';

export interface PresentStacks {
  readonly netplan: boolean;
  readonly networkd: boolean;
  readonly ifupdown: boolean;
  readonly nm: boolean;
  readonly ifcfg: boolean;
}

export type DistroFamily = 'debian' | 'rhel';

const PREFERENCE: Readonly<Record<DistroFamily, readonly RendererName[]>> = {
  debian: ['netplan', 'networkd', 'ifupdown', 'nm'],
  rhel: ['nm', 'networkd', 'ifcfg'],
};

const HINT_TO_RENDERER: Readonly<Record<RendererHintType, RendererName>> = {
  interfaces: 'ifupdown',
  netplan: 'netplan',
  networkd: 'networkd',
  nm: 'nm',
  scripts: 'ifcfg',
};

/**
 * Pick a renderer. A hint wins, but only for a stack that is installed: writing
 * files nothing reads would leave the guest without network, so that is an error
 * naming NETCFG_TYPE. Returns undefined when no known stack is present.
 */
export function chooseRenderer(
  present: PresentStacks,
  family: DistroFamily,
  hint?: RendererHintType,
): RendererName | undefined {
  if (hint !== undefined) {
    const wanted = HINT_TO_RENDERER[hint];
    if (!present[wanted]) throw new ConfigError('NETCFG_TYPE', `${hint} was requested but ${wanted} is not installed`);
    return wanted;
  }
  return PREFERENCE[family].find((r) => present[r]);
}
