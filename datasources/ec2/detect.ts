// Is this an EC2 (or EC2-compatible) guest? Local evidence only: DMI files,
// the kernel command line and an explicit --metadata-url. Without evidence
// there is no network probe at all, so a guest without a metadata service
// never waits for one. Also picks the IMDS address (IPv4, or IPv6 on an
// IPv6-only guest).
import type { Host } from '../../src/host/host';
import type { DatasourceContext, Detection } from '../../src/types';
import { cmdlineSelects, describeDmi, readDmi, type DmiFacts } from '../../src/detect/dmi';

export const IMDS_IPV4 = 'http://169.254.169.254';
export const IMDS_IPV6 = 'http://[fd00:ec2::254]';

const FIELDS = ['sys_vendor', 'product_name', 'product_uuid', 'product_serial', 'product_version', 'bios_vendor', 'chassis_asset_tag'] as const;

/**
 * The DMI rules, each naming what it saw:
 * - sys_vendor or bios_vendor "Amazon EC2" (Nitro instances);
 * - chassis_asset_tag starting with "Amazon EC2";
 * - product_version containing "amazon" (Xen HVM instances: "4.11.amazon");
 * - product_uuid starting with "ec2" (any case), unless product_serial is
 *   readable and differs from it — a random UUID starts with "ec2" once in
 *   4096 machines, while on EC2 the serial repeats the UUID;
 * - EC2-compatible clouds that serve the same API: Brightbox (product_serial
 *   ending ".brightbox.com"), ZStack (chassis_asset_tag ending ".zstack.io"),
 *   e24cloud (sys_vendor "e24cloud"), Outscale (sys_vendor "3DS Outscale").
 */
export function ec2DmiEvidence(dmi: DmiFacts): string | undefined {
  const lc = (v: string | undefined): string => (v ?? '').toLowerCase();
  if (lc(dmi.sys_vendor) === 'amazon ec2') return `DMI sys_vendor is ${JSON.stringify(dmi.sys_vendor)}`;
  if (lc(dmi.bios_vendor) === 'amazon ec2') return `DMI bios_vendor is ${JSON.stringify(dmi.bios_vendor)}`;
  if (lc(dmi.chassis_asset_tag).startsWith('amazon ec2')) return `DMI chassis_asset_tag is ${JSON.stringify(dmi.chassis_asset_tag)}`;
  if (lc(dmi.product_version).includes('amazon')) return `DMI product_version ${JSON.stringify(dmi.product_version)} contains "amazon"`;
  const uuid = lc(dmi.product_uuid);
  if (uuid.startsWith('ec2')) {
    const serial = lc(dmi.product_serial);
    if (serial === '' || serial === uuid) return `DMI product_uuid ${JSON.stringify(dmi.product_uuid)} starts with "ec2"`;
  }
  if (lc(dmi.product_serial).endsWith('.brightbox.com')) return `DMI product_serial ${JSON.stringify(dmi.product_serial)} is Brightbox's (EC2-compatible)`;
  if (lc(dmi.chassis_asset_tag).endsWith('.zstack.io')) return `DMI chassis_asset_tag ${JSON.stringify(dmi.chassis_asset_tag)} is ZStack's (EC2-compatible)`;
  if (lc(dmi.sys_vendor) === 'e24cloud') return `DMI sys_vendor is ${JSON.stringify(dmi.sys_vendor)} (EC2-compatible)`;
  if (lc(dmi.sys_vendor) === '3ds outscale') return `DMI sys_vendor is ${JSON.stringify(dmi.sys_vendor)} (EC2-compatible)`;
  return undefined;
}

/**
 * The IMDS base URL when none was given. The IPv6 address is used only on an
 * IPv6-only guest: /proc/net/route lists no IPv4 route at all while
 * /proc/net/if_inet6 has a global-scope address on an interface other than lo.
 * Anything else (dual stack, files missing as in an offline --root) keeps the
 * IPv4 address, which every EC2 instance and every EC2-compatible cloud serves.
 */
export async function imdsBaseUrl(host: Host): Promise<{ url: string; why: string }> {
  try {
    const route = await host.readTextIfExists('/proc/net/route', 1024 * 1024);
    const inet6 = await host.readTextIfExists('/proc/net/if_inet6', 1024 * 1024);
    if (route === undefined || inet6 === undefined) return { url: IMDS_IPV4, why: 'IPv4 address (no /proc/net facts)' };
    const ipv4Routes = route.split('\n').slice(1).filter((l) => l.trim() !== '');
    const global6 = inet6
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 6 && f[3] === '00' && f[5] !== 'lo');
    if (ipv4Routes.length === 0 && global6.length > 0) {
      return { url: IMDS_IPV6, why: `IPv6 address (no IPv4 route; global IPv6 on ${global6.map((f) => f[5]).join(', ')})` };
    }
    return { url: IMDS_IPV4, why: 'IPv4 address' };
  } catch (err) {
    return { url: IMDS_IPV4, why: `IPv4 address (cannot read /proc/net: ${err instanceof Error ? err.message : String(err)})` };
  }
}

export async function detectEc2(ctx: DatasourceContext): Promise<Detection> {
  try {
    if (ctx.metadataUrl !== undefined) return { found: true, evidence: `explicit metadata URL ${ctx.metadataUrl}`, location: ctx.metadataUrl };
    const dmi = await readDmi(ctx.host, FIELDS);
    const fromDmi = ec2DmiEvidence(dmi);
    const fromCmdline = cmdlineSelects(ctx.cmdline, 'ec2') ? 'ds=ec2 on the kernel command line' : undefined;
    const evidence = fromCmdline ?? fromDmi;
    if (evidence === undefined) return { found: false, evidence: `no EC2 evidence (${describeDmi(dmi)}; no ds=ec2; no --metadata-url)` };
    const base = await imdsBaseUrl(ctx.host);
    return { found: true, evidence: `${evidence}; metadata service at the ${base.why}`, location: base.url };
  } catch (err) {
    return { found: false, evidence: `detection failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
