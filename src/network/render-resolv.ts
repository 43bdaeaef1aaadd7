// DNS outside the per-link configuration: a resolv.conf body and a
// systemd-resolved drop-in. Global servers come first, then each link's in link
// name order; order is priority, so nothing is sorted, only de-duplicated.
import type { BoundNetwork } from './bind';
import { HEADER, type RenderedFile, lines } from './render-common';
import { mergeUnique } from './model';

export const RESOLV_CONF_PATH = '/etc/resolv.conf';
export const RESOLVED_DROPIN_PATH = '/etc/systemd/resolved.conf.d/90-guestctx.conf';

/** Every nameserver and search domain of the network, globals first. */
export function collectDns(net: BoundNetwork): { nameservers: string[]; search: string[] } {
  const nameservers = mergeUnique([], net.dns.nameservers);
  const search = mergeUnique([], net.dns.search);
  for (const l of net.links) {
    mergeUnique(nameservers, l.dns.nameservers);
    mergeUnique(search, l.dns.search);
  }
  return { nameservers, search };
}

/** resolv.conf content, or undefined when there is nothing to say (keep the existing file). */
export function renderResolvConf(net: BoundNetwork): RenderedFile | undefined {
  const { nameservers, search } = collectDns(net);
  if (nameservers.length === 0 && search.length === 0) return undefined;
  return {
    path: RESOLV_CONF_PATH,
    content: lines([
      HEADER.trimEnd(),
      ...nameservers.map((ns) => `nameserver ${ns}`),
      search.length > 0 ? `search ${search.join(' ')}` : undefined,
    ]),
    mode: 0o644,
  };
}

/**
 * systemd-resolved drop-in with the global DNS only: per-link servers reach
 * resolved through networkd/NetworkManager, which scope them to their link.
 */
export function renderResolvedDropIn(net: BoundNetwork): RenderedFile | undefined {
  const { nameservers, search } = net.dns;
  if (nameservers.length === 0 && search.length === 0) return undefined;
  return {
    path: RESOLVED_DROPIN_PATH,
    content: lines([
      HEADER.trimEnd(),
      '[Resolve]',
      nameservers.length > 0 ? `DNS=${nameservers.join(' ')}` : undefined,
      search.length > 0 ? `Domains=${search.join(' ')}` : undefined,
    ]),
    mode: 0o644,
  };
}
