// udev .link files for NICs the source asked to rename. systemd-udevd applies them
// at device probe whatever stack configures addresses, so every renderer that
// cannot rename by itself (NetworkManager, ifupdown, ifcfg) ships them too.
import type { BoundLink, BoundNetwork } from './bind';
import { HEADER, type OwnedFiles, type RenderedFile, lines } from './render-common';

export const LINK_DIR = '/etc/systemd/network';
export const LINK_PREFIX = '10-guestctx-';
export const LINK_FILES_OWNED: readonly OwnedFiles[] = [{ dir: LINK_DIR, prefix: LINK_PREFIX }];

export function linkFileContent(l: BoundLink): string | undefined {
  if (!(l.kind === 'physical' && l.rename)) return undefined;
  const match = l.mac !== undefined ? `PermanentMACAddress=${l.mac}` : `OriginalName=${l.currentName ?? l.name}`;
  return lines([HEADER.trimEnd(), '[Match]', match, '', '[Link]', `Name=${l.name}`]);
}

export function renderLinkFiles(net: BoundNetwork): RenderedFile[] {
  const out: RenderedFile[] = [];
  for (const l of net.links) {
    const content = linkFileContent(l);
    if (content) out.push({ path: `${LINK_DIR}/${LINK_PREFIX}${l.name}.link`, content, mode: 0o644 });
  }
  return out;
}
