// OpenNebula context on VMware: the same context.sh, base64-encoded in the
// guestinfo key guestinfo.opennebula.context and read through VMware Tools
// (vmtoolsd --cmd "info-get ..."), with extra files in
// guestinfo.opennebula.file.0, .1, ... (base64). Detection is local: DMI says
// VMware and the guest has the tools; nothing is asked before that.
import { DatasourceError } from '../../src/errors';
import { describeDmi, readDmi } from '../../src/detect/dmi';
import type { Host } from '../../src/host/host';
import { memoryVolume } from '../../src/media/memory-volume';
import type { Datasource, DatasourceContext, Detection, InstanceData } from '../../src/types';
import { contextInstanceData } from '../opennebula';

export const CONTEXT_KEY = 'guestinfo.opennebula.context';
export const FILE_KEY_PREFIX = 'guestinfo.opennebula.file.';
const MAX_FILES = 64;
const TOOLS = ['vmtoolsd', 'vmware-rpctool'];

async function findTool(host: Host): Promise<string | undefined> {
  for (const t of TOOLS) if ((await host.which(t)) !== undefined) return t;
  return undefined;
}

/** The value of a guestinfo key, or undefined when it is not set (the tools exit non-zero). */
async function infoGet(host: Host, tool: string, key: string): Promise<string | undefined> {
  const args = tool === 'vmtoolsd' ? ['--cmd', `info-get ${key}`] : [`info-get ${key}`];
  const res = await host.run(tool, args, { readOnly: true, timeoutMs: 10_000 });
  if (res.code !== 0) return undefined;
  const v = res.stdout.trim();
  return v === '' ? undefined : v;
}

function decodeBase64(value: string, key: string): Buffer {
  const clean = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) throw new DatasourceError(key, 'is not base64');
  return Buffer.from(clean, 'base64');
}

export const vmwareGuestinfo: Datasource = {
  name: 'vmware-guestinfo',
  stage: 'local',

  async detect(ctx: DatasourceContext): Promise<Detection> {
    if (ctx.seed) return { found: false, evidence: 'a --seed is given (guestinfo is not a medium)' };
    try {
      const dmi = await readDmi(ctx.host, ['sys_vendor', 'product_name']);
      if (!/vmware/i.test(`${dmi.sys_vendor ?? ''} ${dmi.product_name ?? ''}`)) return { found: false, evidence: `not a VMware machine (${describeDmi(dmi) || 'no DMI'})` };
      const tool = await findTool(ctx.host);
      if (tool === undefined) return { found: false, evidence: 'VMware machine without VMware Tools (vmtoolsd, vmware-rpctool)' };
      // One cheap RPC: the key is either there or not.
      const value = await infoGet(ctx.host, tool, CONTEXT_KEY);
      return value === undefined ? { found: false, evidence: `VMware Tools present, ${CONTEXT_KEY} not set` } : { found: true, evidence: `${CONTEXT_KEY} is set (read with ${tool})`, location: tool };
    } catch (err) {
      return { found: false, evidence: `detection failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  },

  async read(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
    const tool = where.location ?? (await findTool(ctx.host));
    if (tool === undefined) throw new DatasourceError('vmware-guestinfo', 'VMware Tools (vmtoolsd or vmware-rpctool) are not installed in the guest');
    const encoded = await infoGet(ctx.host, tool, CONTEXT_KEY);
    if (encoded === undefined) throw new DatasourceError(CONTEXT_KEY, 'is not set');
    const contextSh = decodeBase64(encoded, CONTEXT_KEY);
    const files = new Map<string, Buffer>([['context.sh', contextSh]]);
    for (let i = 0; i < MAX_FILES; i++) {
      const v = await infoGet(ctx.host, tool, `${FILE_KEY_PREFIX}${i}`);
      if (v === undefined) break;
      files.set(`file.${i}`, decodeBase64(v, `${FILE_KEY_PREFIX}${i}`));
    }
    ctx.log.addSecret(encoded);
    return contextInstanceData('vmware-guestinfo', `guestinfo (${tool})`, contextSh, memoryVolume('guestinfo', files));
  },
};
