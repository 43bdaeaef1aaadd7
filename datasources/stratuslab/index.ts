// StratusLab contextualization, three shapes:
//  (a) an ISO9660 CD labelled _STRATUSLAB carrying context.sh (StratusLab's
//      build of the OpenNebula / HEPiX CD), read like OpenNebula's;
//  (b) CONTEXT_METHOD=cloud-init in that context.sh, with the authorized keys
//      and gzip'd user-data base64-encoded in CLOUD_INIT_* (see
//      ./cloud-init-vars; the OpenNebula datasource applies it too);
//  (c) a vfat volume labelled _CLOUD_INIT that StratusLab's host side built
//      from those variables, in the config-drive-v1 layout: meta.js
//      ({"user-data", "dsmode"}), root/.ssh/authorized_keys and optionally
//      etc/network/interfaces.
import { DatasourceError, type GuestctxError } from '../../src/errors';
import type { Volume } from '../../src/media/volume';
import type { Datasource, DatasourceContext, Detection, InstanceData } from '../../src/types';
import { contextInstanceData } from '../opennebula';
import { isFile, openDetected, readOptional, readRequired, reason, unique } from '../configdrive/local-media';
import { hasV1Markers, readConfigDriveV1 } from '../configdrive/v1';
import { isStratusLabCloudInit, stratusLabCloudInit } from './cloud-init-vars';

export { isStratusLabCloudInit, stratusLabCloudInit, STRATUSLAB_MAX_GZIP_BYTES, STRATUSLAB_MAX_USERDATA_BYTES, type StratusLabCloudInit } from './cloud-init-vars';

export const STRATUSLAB_CD_LABEL = '_STRATUSLAB';
export const STRATUSLAB_CLOUD_INIT_LABEL = '_CLOUD_INIT';
const MAX_CONTEXT_BYTES = 16 * 1024 * 1024;

/**
 * Read context.sh from a volume into InstanceData (OpenNebula's decoding).
 * Lines the lenient parser could not read are `problems`; only a context.sh
 * with errors and not a single usable variable fails the read.
 */
export async function contextFromVolume(volume: Volume, source: string, name: string): Promise<InstanceData> {
  const contextSh = await readRequired(volume, '/context.sh', MAX_CONTEXT_BYTES, source);
  const data = contextInstanceData(name, source, contextSh, volume);
  const first = data.problems[0];
  if ((data.context?.size ?? 0) === 0 && first !== undefined) {
    throw new DatasourceError(`${source}:/context.sh`, `not a usable context: no variable could be read (${first.describe()})`, { cause: first });
  }
  return data;
}

/**
 * Apply StratusLab's CONTEXT_METHOD=cloud-init to InstanceData decoded from a
 * context.sh: its keys join the public keys, its user-data replaces USER_DATA
 * (a context carrying both gets a problem saying so). Unchanged when the
 * method is not cloud-init. Throws as stratusLabCloudInit does.
 */
export function applyStratusLabCloudInit(data: InstanceData, origin: string): InstanceData {
  const vars = data.context;
  if (vars === undefined) return data;
  const ci = stratusLabCloudInit(vars, origin);
  if (ci === undefined) return data;
  const problems: GuestctxError[] = [...data.problems];
  if (ci.userData !== undefined && data.userData !== undefined) {
    problems.push(new DatasourceError(`${origin} USER_DATA`, 'ignored: CONTEXT_METHOD=cloud-init takes the user-data from CLOUD_INIT_USER_DATA'));
  }
  return {
    ...data,
    userData: ci.userData ?? data.userData,
    publicKeys: unique([...data.publicKeys, ...ci.publicKeys]),
    raw: { ...data.raw, CONTEXT_METHOD: 'cloud-init' },
    secretKeys: unique([...data.secretKeys, 'CLOUD_INIT_USER_DATA']),
    problems,
  };
}

/** Which StratusLab shape a volume has, from its label and files. */
async function shapeOf(volume: Volume): Promise<'context' | 'cloud-init-disk' | undefined> {
  if (await isFile(volume, '/context.sh')) return 'context';
  if (await hasV1Markers(volume)) return 'cloud-init-disk';
  return undefined;
}

/** For a --seed: a context.sh asking for CONTEXT_METHOD=cloud-init (a few bytes of text, no decoding). */
async function seedAsksCloudInit(volume: Volume): Promise<boolean> {
  const text = (await readOptional(volume, '/context.sh', MAX_CONTEXT_BYTES, 'seed'))?.toString('utf8') ?? '';
  return /^\s*(?:export\s+)?CONTEXT_METHOD\s*=\s*["']?cloud-init["']?\s*$/m.test(text);
}

export const stratusLab: Datasource = {
  name: 'stratuslab',
  stage: 'local',

  async detect(ctx: DatasourceContext): Promise<Detection> {
    try {
      if (ctx.seed) {
        const { path, volume } = ctx.seed;
        if (volume.label === STRATUSLAB_CD_LABEL && (await isFile(volume, '/context.sh'))) {
          return { found: true, evidence: `seed ${path} is a _STRATUSLAB CD with context.sh`, location: path };
        }
        if (volume.label === STRATUSLAB_CLOUD_INIT_LABEL && (await hasV1Markers(volume))) {
          return { found: true, evidence: `seed ${path} is a _CLOUD_INIT disk`, location: path };
        }
        if (await seedAsksCloudInit(volume)) return { found: true, evidence: `seed ${path} has context.sh with CONTEXT_METHOD=cloud-init`, location: path };
        return { found: false, evidence: `seed ${path} is neither a _STRATUSLAB CD, a _CLOUD_INIT disk nor a context with CONTEXT_METHOD=cloud-init` };
      }
      const labels = await ctx.labels();
      const cd = labels.find(STRATUSLAB_CD_LABEL);
      if (cd !== undefined) return { found: true, evidence: `filesystem labelled _STRATUSLAB at ${cd}`, location: cd };
      const disk = labels.find(STRATUSLAB_CLOUD_INIT_LABEL);
      if (disk !== undefined) return { found: true, evidence: `filesystem labelled _CLOUD_INIT at ${disk}`, location: disk };
      return { found: false, evidence: `no filesystem labelled _STRATUSLAB or _CLOUD_INIT (${labels.evidence})` };
    } catch (err) {
      return { found: false, evidence: `detection failed: ${reason(err)}` };
    }
  },

  async read(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
    const { volume, source } = await openDetected(ctx, where);
    const shape = await shapeOf(volume);
    if (shape === 'context') {
      const data = await contextFromVolume(volume, source, 'stratuslab');
      return applyStratusLabCloudInit(data, `${source}:/context.sh`);
    }
    if (shape === 'cloud-init-disk') return readConfigDriveV1(volume, source, 'stratuslab');
    throw new DatasourceError(source, 'has neither context.sh nor the _CLOUD_INIT files (meta.js, root/.ssh/authorized_keys, etc/network/interfaces)');
  },
};

