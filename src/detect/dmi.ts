// DMI (SMBIOS) facts read as files under /sys/class/dmi/id, through the host so
// a folder of fixtures is a whole fake machine. Shared by the metadata-service
// datasources: their detection is local evidence only, never a network probe.
import type { Host } from '../host/host';

export const DMI_DIR = '/sys/class/dmi/id';

export type DmiField =
  | 'sys_vendor'
  | 'product_name'
  | 'product_uuid'
  | 'product_serial'
  | 'product_version'
  | 'bios_vendor'
  | 'chassis_asset_tag';

export type DmiFacts = Partial<Record<DmiField, string>>;

/**
 * Read the given DMI fields (trimmed). A missing or unreadable file (some are
 * root-only) is simply absent: detection must never throw.
 */
export async function readDmi(host: Host, fields: readonly DmiField[]): Promise<DmiFacts> {
  const out: DmiFacts = {};
  await Promise.all(
    fields.map(async (f) => {
      try {
        const v = (await host.readTextIfExists(`${DMI_DIR}/${f}`, 4096))?.trim();
        if (v !== undefined && v !== '') out[f] = v;
      } catch {
        // Unreadable (EACCES on product_serial for non-root): no evidence either way.
        return;
      }
    }),
  );
  return out;
}

/** "sys_vendor=\"QEMU\", product_name=\"Standard PC\"" — what was seen, for Detection.evidence. */
export function describeDmi(facts: DmiFacts): string {
  const seen = Object.entries(facts).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return seen.length > 0 ? `DMI ${seen.join(', ')}` : `no DMI facts under ${DMI_DIR}`;
}

/** True when the kernel command line carries ds=NAME (alone or as ds=NAME;options). */
export function cmdlineSelects(cmdline: string, name: string): boolean {
  return cmdline
    .split(/\s+/)
    .some((w) => w.toLowerCase().startsWith('ds=') && w.slice(3).split(';')[0]?.toLowerCase() === name);
}
