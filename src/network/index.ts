// The network area's public surface: converters, binding, renderers by name.
import type { Renderer, RendererName } from './render-common';
import { ifcfgRenderer } from './render-ifcfg';
import { ifupdownRenderer } from './render-ifupdown';
import { netplanRenderer } from './render-netplan';
import { networkdRenderer } from './render-networkd';
import { nmRenderer } from './render-nm';

export const RENDERERS: Readonly<Record<RendererName, Renderer>> = {
  netplan: netplanRenderer,
  networkd: networkdRenderer,
  ifupdown: ifupdownRenderer,
  nm: nmRenderer,
  ifcfg: ifcfgRenderer,
};

export { bindInterfaces, type BoundLink, type BoundNetwork } from './bind';
export { chooseRenderer, type DistroFamily, type PresentStacks } from './choose-renderer';
export { fallbackModel, type GuestNic } from './fallback';
export { fromCloudInitV1 } from './from-cloudinit-v1';
export { fromCloudInitV2 } from './from-cloudinit-v2';
export { fromEc2, type Ec2Mac, type Ec2NetworkInput } from './from-ec2';
export { fromOpenNebula } from './from-opennebula';
export { fromOpenStack } from './from-openstack';
export type { NetworkModel, ConvertContext } from './model';
export { isOwned, type OwnedFiles, type RenderOptions, type RenderedFile, type Renderer, type RendererName } from './render-common';
export { nmUnmanagedConf } from './render-nm';
export { renderResolvConf, renderResolvedDropIn, collectDns } from './render-resolv';
