// Amazon EC2 and EC2-compatible metadata services (IMDS). Detection is local
// evidence only (see ./detect); reading fetches just the keys guestctx uses,
// in parallel where independent, inside one hard network budget:
//
//   PUT  /latest/api/token                                (IMDSv2; see ./imds)
//   GET  meta-data/instance-id                            required
//        meta-data/local-hostname, placement/availability-zone
//        meta-data/public-keys/  and, speculatively in parallel, public-keys/0/openssh-key
//        meta-data/block-device-mapping/  then the value of each ephemeralN, swap, ebsN
//        meta-data/network/interfaces/macs/  then per MAC: local-ipv4s, ipv6s,
//             device-number (only with 3+ MACs; with two, one meta-data/mac),
//             subnet-ipv4-cidr-block (only with secondary IPv4s),
//             subnet-ipv6-cidr-blocks (only with secondary IPv6s)
//        user-data
//
// Not fetched, because they follow from the above: local-ipv4 (first of the
// primary MAC's local-ipv4s), mac (the MAC with device-number 0; a lone MAC is
// the primary), block-device-mapping/ami and /root (the root disk is already
// mounted). That is 12 requests for one NIC and one key, 15 for two NICs.
import { DatasourceError } from '../../src/errors';
import type { HttpResponse } from '../../src/host/host';
import { startBudget } from '../../src/http/budget';
import { createLimiter } from '../../src/http/limit';
import { textBody } from '../../src/http/response';
import { policyForBudget } from '../../src/http/retry';
import type { Datasource, DatasourceContext, Detection, Ec2Network, InstanceData } from '../../src/types';
import { IMDS_IPV4, detectEc2 } from './detect';
import { ImdsSession } from './imds';

const MAX_KEY_BYTES = 64 * 1024;
const MAX_USER_DATA_BYTES = 16 * 1024 * 1024;
/** Requests in flight at once: EC2 throttles bursts per interface. */
const MAX_PARALLEL = 6;
/** Bounds on lists an untrusted service hands us. */
const MAX_KEYS = 16;
const MAX_MACS = 32;
const MAX_BDM = 32;
/** Block device names whose device we fetch: the ones mounts and swap can use. */
const BDM_WANTED = /^(?:ephemeral\d+|swap|ebs\d+)$/;

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6 = /^[0-9a-f:.]+$/i;
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

type Raw = Record<string, unknown>;

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** One line of printable text (instance id, availability zone…); shape errors name the URL. */
function oneLine(res: HttpResponse, what: string, pattern: RegExp): string {
  const text = textBody(res, what).trim();
  if (text === '' || text.includes('\n')) throw new DatasourceError(res.url, `${what}: expected one line, got ${text === '' ? 'nothing' : `${lines(text).length} lines`}`);
  if (!pattern.test(text)) throw new DatasourceError(res.url, `${what}: ${JSON.stringify(text.slice(0, 80))} is not a valid value`);
  return text;
}

/** Lines that must each match `pattern`. */
function listOf(res: HttpResponse, what: string, pattern: RegExp): string[] {
  const out = lines(textBody(res, what));
  for (const l of out) if (!pattern.test(l)) throw new DatasourceError(res.url, `${what}: ${JSON.stringify(l.slice(0, 80))} is not a valid entry`);
  return out;
}

interface MacInfo {
  readonly mac: string;
  readonly deviceNumber: number | undefined;
  readonly localIpv4s: readonly string[];
  readonly subnetIpv4Cidr?: string;
  readonly ipv6s?: readonly string[];
  readonly subnetIpv6Cidrs?: readonly string[];
}

async function readEc2(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
  const baseUrl = where.location ?? ctx.metadataUrl ?? IMDS_IPV4;
  const budget = startBudget(ctx.host, ctx.networkBudgetMs);
  const log = ctx.log;
  const imds = new ImdsSession({ host: ctx.host, baseUrl, budget, policy: policyForBudget(ctx.networkBudgetMs), limit: createLimiter(MAX_PARALLEL), log });
  await imds.start();

  const raw: Raw = {};
  const md = (key: string): string => `/latest/meta-data/${key}`;
  const optional = async (key: string, maxBytes = MAX_KEY_BYTES): Promise<HttpResponse | undefined> => imds.get(md(key), { maxBytes, optional: true });
  const text = async (key: string, what: string, pattern: RegExp): Promise<string | undefined> => {
    const res = await optional(key);
    if (res === undefined) return undefined;
    const v = oneLine(res, what, pattern);
    raw[`meta-data/${key}`] = v;
    return v;
  };
  const list = async (key: string, what: string, pattern: RegExp): Promise<string[] | undefined> => {
    const res = await optional(key);
    if (res === undefined) return undefined;
    const v = listOf(res, what, pattern);
    raw[`meta-data/${key}`] = v;
    return v;
  };

  const instanceId = (async () => {
    const res = await imds.get(md('instance-id'), { maxBytes: MAX_KEY_BYTES, optional: false });
    // get() throws on 404 for a required key, so res is always set here.
    const id = oneLine(res as HttpResponse, 'instance-id', /^[\x21-\x7e]{1,255}$/);
    raw['meta-data/instance-id'] = id;
    return id;
  })();

  // local-hostname may carry several names (DHCP option sets with many
  // domains); the first is the instance's own.
  const hostname = (async () => {
    const res = await optional('local-hostname');
    if (res === undefined) return undefined;
    const all = textBody(res, 'local-hostname').trim();
    raw['meta-data/local-hostname'] = all;
    const first = all.split(/\s+/)[0] ?? '';
    if (first === '') return undefined;
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(first)) throw new DatasourceError(res.url, `local-hostname: ${JSON.stringify(first.slice(0, 80))} is not a host name`);
    return first;
  })();

  const zone = text('placement/availability-zone', 'availability-zone', /^[\x21-\x7e]{1,128}$/);

  // The key list is "N=name" lines; key 0 is fetched alongside it because
  // nearly every instance has exactly one key: one round trip saved.
  const keys = (async () => {
    const [index, first] = await Promise.all([list('public-keys/', 'public-keys list', /^\d+=.*$/), optional('public-keys/0/openssh-key')]);
    if (index === undefined) return [];
    const wanted = index.map((l) => Number(l.slice(0, l.indexOf('=')))).slice(0, MAX_KEYS);
    const texts = await Promise.all(
      wanted.map(async (n) => {
        const res = n === 0 ? first : await optional(`public-keys/${n}/openssh-key`);
        if (res === undefined) return [];
        const body = textBody(res, 'an OpenSSH public key');
        raw[`meta-data/public-keys/${n}/openssh-key`] = body.trim();
        return lines(body).filter((l) => !l.startsWith('#'));
      }),
    );
    return [...new Set(texts.flat())];
  })();

  const bdm = (async () => {
    const names = await list('block-device-mapping/', 'block-device-mapping list', /^[A-Za-z0-9_.-]+$/);
    if (names === undefined) return undefined;
    const out: Record<string, string> = {};
    await Promise.all(
      names
        .filter((n) => BDM_WANTED.test(n))
        .slice(0, MAX_BDM)
        .map(async (n) => {
          const dev = await text(`block-device-mapping/${n}`, `block device ${n}`, /^[A-Za-z0-9_./-]{1,128}$/);
          if (dev !== undefined) out[n] = dev;
        }),
    );
    return out;
  })();

  const network = (async (): Promise<Ec2Network | undefined> => {
    const entries = await list('network/interfaces/macs/', 'MAC list', /^[0-9a-f:]+\/?$/i);
    if (entries === undefined || entries.length === 0) return undefined;
    const macs = entries.map((e) => e.replace(/\/$/, '').toLowerCase()).slice(0, MAX_MACS);
    for (const m of macs) if (!MAC.test(m)) throw new DatasourceError(imds.url(md('network/interfaces/macs/')), `${JSON.stringify(m)} is not a MAC address`);
    const single = macs.length === 1;
    // Two interfaces (the common multi-NIC case): one `mac` request names the
    // primary and the other is device 1, instead of a device-number per MAC.
    // From three on, device-number orders the secondaries' route metrics.
    const pair = macs.length === 2;
    const [read, pairPrimary] = await Promise.all([
      Promise.all(macs.map((mac) => readMac(mac, single || pair))),
      pair ? text('mac', 'mac', MAC).then((m) => m?.toLowerCase()) : Promise.resolve(undefined),
    ]);
    const namedPrimary = pair && pairPrimary !== undefined && macs.includes(pairPrimary) ? pairPrimary : undefined;
    let infos = read;
    if (namedPrimary !== undefined) {
      infos = read.map((i) => ({ ...i, deviceNumber: i.mac === namedPrimary ? 0 : 1 }));
    } else if (pair) {
      // No usable `mac` key (an EC2-compatible service): device-number after all.
      const numbers = await Promise.all(macs.map((mac) => text(`network/interfaces/macs/${mac}/device-number`, 'device-number', /^\d{1,4}$/)));
      infos = read.map((i, n) => ({ ...i, deviceNumber: numbers[n] === undefined ? undefined : Number(numbers[n]) }));
    }
    let primary = single ? infos[0]?.mac : (namedPrimary ?? infos.find((i) => i.deviceNumber === 0)?.mac);
    if (primary === undefined) {
      // No device-number 0 (an EC2-compatible service without it): ask.
      primary = (await text('mac', 'mac', MAC))?.toLowerCase();
      if (primary === undefined) throw new DatasourceError(imds.url(md('mac')), 'cannot tell the primary interface: no device-number 0 and no mac key');
    }
    return {
      primaryMac: primary,
      macs: infos.map((i, n) => ({
        mac: i.mac,
        // A lone interface is device 0; otherwise keep list order after the known ones.
        deviceNumber: i.deviceNumber ?? (single ? 0 : 1000 + n),
        localIpv4s: i.localIpv4s,
        ...(i.subnetIpv4Cidr !== undefined ? { subnetIpv4Cidr: i.subnetIpv4Cidr } : {}),
        ...(i.ipv6s !== undefined ? { ipv6s: i.ipv6s } : {}),
        ...(i.subnetIpv6Cidrs !== undefined ? { subnetIpv6Cidrs: i.subnetIpv6Cidrs } : {}),
      })),
    };
  })();

  // Per MAC, 404 means "none": no IPv6, or an older service without the key.
  async function readMac(mac: string, withoutDeviceNumber: boolean): Promise<MacInfo> {
    const p = `network/interfaces/macs/${mac}/`;
    const [dev, v4, v6] = await Promise.all([
      withoutDeviceNumber ? Promise.resolve(undefined) : text(`${p}device-number`, 'device-number', /^\d{1,4}$/),
      list(`${p}local-ipv4s`, 'local-ipv4s', IPV4),
      list(`${p}ipv6s`, 'ipv6s', IPV6),
    ]);
    // The subnets are needed only to give secondary addresses a prefix (the
    // first address of each family comes from DHCP).
    const [cidr4, cidr6] = await Promise.all([
      (v4?.length ?? 0) > 1 ? text(`${p}subnet-ipv4-cidr-block`, 'subnet-ipv4-cidr-block', /^[\d.]+\/\d{1,2}$/) : Promise.resolve(undefined),
      (v6?.length ?? 0) > 1 ? list(`${p}subnet-ipv6-cidr-blocks`, 'subnet-ipv6-cidr-blocks', /^[0-9a-f:]+\/\d{1,3}$/i) : Promise.resolve(undefined),
    ]);
    return {
      mac,
      deviceNumber: dev === undefined ? undefined : Number(dev),
      localIpv4s: v4 ?? [],
      ...(cidr4 !== undefined ? { subnetIpv4Cidr: cidr4 } : {}),
      ...(v6 !== undefined ? { ipv6s: v6 } : {}),
      ...(cidr6 !== undefined ? { subnetIpv6Cidrs: cidr6 } : {}),
    };
  }

  // user-data is opaque bytes (gzip, MIME, a script): no text or HTML check.
  const userData = (async () => (await imds.get('/latest/user-data', { maxBytes: MAX_USER_DATA_BYTES, optional: true }))?.body)();

  // The availability zone is kept in raw only (for `query` and templates).
  const [id, host, , publicKeys, mapping, net, ud] = await Promise.all([instanceId, hostname, zone, keys, bdm, network, userData]);

  const secretKeys: string[] = [];
  if (ud !== undefined) {
    const key = isUtf8(ud) ? 'user-data' : 'user-data-base64';
    raw[key] = key === 'user-data' ? ud.toString('utf8') : ud.toString('base64');
    secretKeys.push(key);
  }
  raw['imds-version'] = imds.mode;
  raw['metadata-url'] = baseUrl;
  log.debug(`ec2: read ${baseUrl} with IMDS${imds.mode ?? '?'} in ${Math.round(budget.elapsedMs())} ms`);
  return {
    datasource: 'ec2',
    source: baseUrl,
    instanceId: id,
    instanceIdRule: 'meta-data/instance-id from the instance metadata service',
    ...(host !== undefined ? { hostname: host } : {}),
    publicKeys,
    ...(ud !== undefined && ud.length > 0 ? { userData: ud } : {}),
    ...(net !== undefined ? { network: { kind: 'ec2' as const, data: net, origin: `${baseUrl}/latest/meta-data/network/interfaces/macs/` } } : {}),
    ...(mapping !== undefined && Object.keys(mapping).length > 0 ? { blockDeviceMapping: mapping } : {}),
    raw,
    secretKeys,
    problems: [],
  };
}

function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

export const ec2: Datasource = {
  name: 'ec2',
  stage: 'network',
  detect: detectEc2,
  async read(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
    try {
      return await readEc2(ctx, where);
    } catch (err) {
      if (err instanceof DatasourceError) throw err;
      throw new DatasourceError(where.location ?? ctx.metadataUrl ?? IMDS_IPV4, 'cannot read the EC2 metadata service', { cause: err });
    }
  },
};
