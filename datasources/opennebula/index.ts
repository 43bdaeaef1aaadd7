// OpenNebula context CD: an ISO9660 medium labelled CONTEXT (or CDROM carrying
// a context.sh) with context.sh and the files of the FILES / FILES_DS
// attributes. context.sh is parsed as data, never executed.
import { crypto } from '../../src/host/builtins';
import { DatasourceError, GuestctxError } from '../../src/errors';
import { isContextSecret, parseContextShLenient } from '../../src/formats/context-sh';
import { openMedium } from '../../src/media/open-medium';
import type { Volume } from '../../src/media/volume';
import { applyStratusLabCloudInit } from '../stratuslab';
import type { Datasource, DatasourceContext, Detection, InstanceData } from '../../src/types';

const LABELS = ['CONTEXT', 'context'];
const MAX_CONTEXT_BYTES = 16 * 1024 * 1024;

/**
 * The instance id rule, documented in the README: VMID when the context has it
 * (stable across reboots, different for every VM cloned from one image);
 * otherwise "ctx-" and the first 16 hex digits of the SHA-256 of context.sh.
 * Never a constant, so clones of an image always run their per-instance work.
 */
export function openNebulaInstanceId(vars: ReadonlyMap<string, string>, contextSh: Buffer): { id: string; rule: string } {
  const vmid = vars.get('VMID')?.trim();
  if (vmid) return { id: vmid, rule: 'VMID from context.sh' };
  return { id: `ctx-${crypto().createHash('sha256').update(contextSh).digest('hex').slice(0, 16)}`, rule: 'SHA-256 of context.sh (no VMID)' };
}

/** Decode the OpenNebula variables into InstanceData; shared with the StratusLab and HEPiX variants. */
export function contextInstanceData(name: string, source: string, contextSh: Buffer, medium: Volume | undefined): InstanceData {
  const { vars, errors } = parseContextShLenient(contextSh.toString('utf8'), `${source}:/context.sh`);
  const { id, rule } = openNebulaInstanceId(vars, contextSh);
  const problems: GuestctxError[] = [...errors];
  let userData: Buffer | undefined;
  const ud = vars.get('USER_DATA');
  if (ud !== undefined && ud !== '') {
    const enc = (vars.get('USERDATA_ENCODING') ?? '').toLowerCase();
    userData = enc === 'base64' ? Buffer.from(ud.replace(/\s+/g, ''), 'base64') : Buffer.from(ud, 'utf8');
  }
  const raw: Record<string, unknown> = Object.fromEntries(vars);
  return {
    datasource: name,
    source,
    instanceId: id,
    instanceIdRule: rule,
    publicKeys: [],
    ...(userData ? { userData } : {}),
    context: vars,
    ...(medium ? { medium } : {}),
    raw,
    secretKeys: [...vars.keys()].filter(isContextSecret),
    problems,
  };
}

async function hasContextSh(volume: Volume): Promise<boolean> {
  return (await volume.stat('/context.sh'))?.type === 'file';
}

export const openNebula: Datasource = {
  name: 'opennebula',
  stage: 'local',

  async detect(ctx: DatasourceContext): Promise<Detection> {
    try {
      if (ctx.seed) {
        return (await hasContextSh(ctx.seed.volume))
          ? { found: true, evidence: `seed ${ctx.seed.path} has context.sh`, location: ctx.seed.path }
          : { found: false, evidence: `seed ${ctx.seed.path} has no context.sh` };
      }
      const labels = await ctx.labels();
      const dev = labels.find(...LABELS);
      if (dev !== undefined) return { found: true, evidence: `filesystem labelled CONTEXT at ${dev}`, location: dev };
      // A CD labelled CDROM is accepted only when it carries context.sh; reading
      // its root directory is cheap and only happens when such a label exists.
      const cdrom = labels.find('CDROM');
      if (cdrom !== undefined) {
        const medium = await openMedium(ctx.host, { path: cdrom, local: false }, ctx.log);
        try {
          if (await hasContextSh(medium.volume)) return { found: true, evidence: `CDROM-labelled medium at ${cdrom} has context.sh`, location: cdrom };
        } finally {
          await medium.close();
        }
        return { found: false, evidence: `CDROM-labelled medium at ${cdrom} has no context.sh` };
      }
      return { found: false, evidence: `no filesystem labelled CONTEXT (${labels.evidence})` };
    } catch (err) {
      return { found: false, evidence: `detection failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  },

  async read(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
    const location = where.location ?? '';
    let volume: Volume;
    if (ctx.seed) {
      volume = ctx.seed.volume;
    } else {
      const medium = await openMedium(ctx.host, { path: location, local: false }, ctx.log).catch((err: unknown) => {
        throw new DatasourceError(location, 'cannot open the context medium', { cause: err });
      });
      ctx.onCleanup(() => medium.close());
      volume = medium.volume;
    }
    let contextSh: Buffer;
    try {
      contextSh = await volume.readFile('/context.sh', MAX_CONTEXT_BYTES);
    } catch (err) {
      throw new DatasourceError(`${location}:/context.sh`, 'cannot read context.sh', { cause: err });
    }
    // StratusLab images put cloud-init data in the context (CONTEXT_METHOD=cloud-init).
    return applyStratusLabCloudInit(contextInstanceData('opennebula', location, contextSh, volume), `${location}:/context.sh`);
  },
};
