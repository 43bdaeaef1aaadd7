// HEPiX contextualization (the HEPiX virtualisation working group's
// convention, used on grid sites and by StratusLab): an OpenNebula-style
// context CD whose context.sh comes with prolog.sh and/or epilog.sh (and
// sometimes init.sh). The image runs "prolog.sh start" early in boot and
// "epilog.sh start" late; EC2_USER_DATA carries base64 user-data, and
// PUBLIC_KEY (or the CD file named by ROOT_PUBKEY) root's SSH key.
//
// Registered before opennebula: it only claims a CD that has prolog.sh or
// epilog.sh, so a plain OpenNebula CD falls through to that datasource.
import { DatasourceError, type GuestctxError } from '../../src/errors';
import type { Volume } from '../../src/media/volume';
import type { Datasource, DatasourceContext, Detection, InstanceData, ScriptSpec } from '../../src/types';
import { MAX_METADATA_BYTES, MAX_PAYLOAD_BYTES, isFile, keysFromText, openDetected, readOptional, reason, unique, withPeek } from '../configdrive/local-media';
import { contextFromVolume } from '../stratuslab';

/** Labels a HEPiX context CD is found under: OpenNebula's, its CDROM fallback, and StratusLab's CD. */
export const HEPIX_LABELS = ['CONTEXT', 'context', 'CDROM', '_STRATUSLAB'];

/** The key of InstanceData.raw holding the HEPiX scripts (a HepixScripts). */
export const HEPIX_SCRIPTS_KEY = 'hepixScripts';
/** The key of InstanceData.raw holding the keys meant for root's authorized_keys (a string[]). */
export const ROOT_PUBLIC_KEYS_KEY = 'rootPublicKeys';

/** The scripts of a HEPiX CD: prolog runs early ("prolog.sh start"), epilog late ("epilog.sh start"), init as OpenNebula's init.sh. */
export interface HepixScripts {
  readonly prolog?: ScriptSpec;
  readonly epilog?: ScriptSpec;
  readonly init?: ScriptSpec;
}

/** The HEPiX scripts of InstanceData read by this datasource, typed. */
export function hepixScriptsOf(data: InstanceData): HepixScripts | undefined {
  const v = data.raw[HEPIX_SCRIPTS_KEY];
  return typeof v === 'object' && v !== null ? (v as HepixScripts) : undefined;
}

async function hasHepixScripts(volume: Volume): Promise<string[]> {
  const present: string[] = [];
  for (const f of ['prolog.sh', 'epilog.sh']) if (await isFile(volume, `/${f}`)) present.push(f);
  return present;
}

async function isHepixCd(volume: Volume): Promise<{ yes: boolean; why: string }> {
  if (!(await isFile(volume, '/context.sh'))) return { yes: false, why: 'no context.sh' };
  const scripts = await hasHepixScripts(volume);
  return scripts.length > 0 ? { yes: true, why: `context.sh with ${scripts.join(' and ')}` } : { yes: false, why: 'context.sh without prolog.sh or epilog.sh (a plain OpenNebula CD)' };
}

function strictBase64(text: string, where: string): Buffer {
  const t = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 === 1) throw new DatasourceError(where, 'is not valid base64');
  return Buffer.from(t, 'base64');
}

/** A file named by a context variable: relative to the CD root; the volume reader cannot leave the CD. */
function cdPath(name: string): string {
  return `/${name.split('/').filter((s) => s !== '' && s !== '.' && s !== '..').join('/')}`;
}

export async function readHepix(volume: Volume, source: string): Promise<InstanceData> {
  const base = await contextFromVolume(volume, source, 'hepix');
  const vars = base.context ?? new Map<string, string>();
  const ctxOrigin = `${source}:/context.sh`;
  const problems: GuestctxError[] = [...base.problems];

  let userData = base.userData;
  const ec2 = vars.get('EC2_USER_DATA')?.trim();
  if (ec2) {
    if (userData !== undefined) problems.push(new DatasourceError(`${ctxOrigin} USER_DATA`, 'ignored: EC2_USER_DATA is the HEPiX user-data'));
    userData = strictBase64(ec2, `${ctxOrigin} EC2_USER_DATA`);
    if (userData.length > MAX_PAYLOAD_BYTES) throw new DatasourceError(`${ctxOrigin} EC2_USER_DATA`, `user-data is ${userData.length} bytes, more than ${MAX_PAYLOAD_BYTES}`);
  }

  const rootKeys: string[] = [];
  const pk = vars.get('PUBLIC_KEY');
  if (pk) rootKeys.push(...keysFromText(pk));
  const keyFile = vars.get('ROOT_PUBKEY')?.trim();
  if (keyFile) {
    const p = cdPath(keyFile);
    const content = await readOptional(volume, p, MAX_METADATA_BYTES, source);
    if (content === undefined) problems.push(new DatasourceError(`${ctxOrigin} ROOT_PUBKEY`, `names ${p}, which is not on the CD; ignored`));
    else rootKeys.push(...keysFromText(content.toString('utf8')));
  }

  const scripts: { prolog?: ScriptSpec; epilog?: ScriptSpec; init?: ScriptSpec } = {};
  for (const [key, file] of [
    ['prolog', 'prolog.sh'],
    ['epilog', 'epilog.sh'],
    ['init', 'init.sh'],
  ] as const) {
    const content = await readOptional(volume, `/${file}`, MAX_PAYLOAD_BYTES, source);
    if (content !== undefined) scripts[key] = { name: `hepix-${file}`, content, origin: `${source}:/${file}` };
  }

  const keys = unique(rootKeys);
  return {
    ...base,
    userData,
    // HEPiX gives these keys to root; they are also offered for the default
    // user (on HEPiX-era images root is the login), and kept apart in raw so
    // the authorized-keys mapping can send them to root.
    publicKeys: unique([...base.publicKeys, ...keys]),
    raw: { ...base.raw, [ROOT_PUBLIC_KEYS_KEY]: keys, [HEPIX_SCRIPTS_KEY]: scripts },
    secretKeys: unique([...base.secretKeys, 'EC2_USER_DATA', HEPIX_SCRIPTS_KEY]),
    problems,
  };
}

export const hepix: Datasource = {
  name: 'hepix',
  stage: 'local',

  async detect(ctx: DatasourceContext): Promise<Detection> {
    try {
      if (ctx.seed) {
        const { path, volume } = ctx.seed;
        const cd = await isHepixCd(volume);
        return cd.yes ? { found: true, evidence: `seed ${path} has ${cd.why}`, location: path } : { found: false, evidence: `seed ${path} has ${cd.why}` };
      }
      const labels = await ctx.labels();
      const tried: string[] = [];
      for (const label of HEPIX_LABELS) {
        const dev = labels.find(label);
        if (dev === undefined) continue;
        // Looking inside is the only way to tell a HEPiX CD from an OpenNebula
        // one; the user-space readers do it without mounting.
        const cd = await withPeek(ctx.host, dev, isHepixCd).catch((err: unknown) => ({ yes: false, why: `unreadable (${reason(err)})` }));
        if (cd.yes) return { found: true, evidence: `${label}-labelled medium at ${dev} has ${cd.why}`, location: dev };
        tried.push(`${label} at ${dev}: ${cd.why}`);
      }
      return { found: false, evidence: tried.length > 0 ? tried.join('; ') : `no filesystem labelled ${HEPIX_LABELS.join(', ')} (${labels.evidence})` };
    } catch (err) {
      return { found: false, evidence: `detection failed: ${reason(err)}` };
    }
  },

  async read(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
    const { volume, source } = await openDetected(ctx, where);
    return readHepix(volume, source);
  },
};
