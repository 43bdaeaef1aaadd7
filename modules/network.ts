// network: turn the datasource's network description (OpenNebula ETH<n>_*,
// network_data.json, cloud-init v1/v2, EC2 interfaces) into files for the
// guest's own network stack, matched to NICs by MAC. Runs in the local stage,
// before the guest's network service starts. Written for a new instance; on
// later boots only when the input changed, so an administrator's edits stay.
// Bad input never leaves the guest without network: the previous files stay,
// and a guest that has none from us gets DHCP on its first NIC.
import { crypto } from '../src/host/builtins';
import { ConfigError, describeError } from '../src/errors';
import type { NetworkInput, NetworkRendererName, NetworkSettings } from '../src/config/guest-config';
import type { Host } from '../src/host/host';
import {
  RENDERERS,
  bindInterfaces,
  chooseRenderer,
  fallbackModel,
  fromCloudInitV1,
  fromCloudInitV2,
  fromEc2,
  fromOpenNebula,
  fromOpenStack,
  isOwned,
  nmUnmanagedConf,
  renderResolvConf,
  renderResolvedDropIn,
  type BoundNetwork,
  type GuestNic,
  type NetworkModel,
  type RenderedFile,
} from '../src/network';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

const INPUT_HASH = 'network-input.sha256';

/** Convert any supported input into the one model; throws ConfigError naming the key. */
export function toModel(input: NetworkInput, nics: readonly GuestNic[]): NetworkModel {
  const ctx = { origin: input.origin };
  switch (input.kind) {
    case 'opennebula':
      return fromOpenNebula(input.vars, ctx);
    case 'openstack':
      return fromOpenStack(input.data, ctx);
    case 'cloudinit': {
      const data = input.data as { network?: { version?: unknown }; version?: unknown } | null;
      const version = data?.network?.version ?? data?.version;
      if (version === 1) return fromCloudInitV1(input.data, ctx);
      if (version === 2) return fromCloudInitV2(input.data, ctx);
      throw new ConfigError(`${input.origin}: version`, `network configuration version must be 1 or 2, got ${JSON.stringify(version)}`);
    }
    case 'ec2':
      return fromEc2(input.data, ctx);
    case 'eni':
      throw new ConfigError(input.origin, 'Debian interfaces(5) network descriptions are not converted yet');
    case 'fallback':
      return fallbackModel(nics);
  }
}

/** The guest's NICs, read from /sys/class/net like any other file (a fixture folder fakes it). */
export async function readNics(host: Host): Promise<GuestNic[]> {
  const nics: GuestNic[] = [];
  for (const name of await host.list('/sys/class/net')) {
    if (name === 'lo' || name === 'bonding_masters') continue;
    const base = `/sys/class/net/${name}`;
    const mac = (await host.readTextIfExists(`${base}/address`))?.trim().toLowerCase();
    if (mac === undefined) continue;
    let carrier: boolean | undefined;
    try {
      const c = (await host.readTextIfExists(`${base}/carrier`))?.trim();
      carrier = c === undefined ? undefined : c === '1';
    } catch {
      // The kernel answers EINVAL for carrier on an interface that is down: unknown, not an error.
      carrier = undefined;
    }
    nics.push({ name, mac, physical: await host.exists(`${base}/device`), ...(carrier !== undefined ? { carrier } : {}) });
  }
  return nics;
}

/** Whether a systemd unit is enabled in the guest: a symlink in some /etc/systemd/system/*.wants folder. */
async function unitEnabled(host: Host, unit: string): Promise<boolean> {
  for (const dir of await host.list('/etc/systemd/system')) {
    if (dir.endsWith('.wants') && (await host.exists(`/etc/systemd/system/${dir}/${unit}`))) return true;
  }
  return false;
}

/**
 * Which stacks the target uses, and its family (RHEL-like or Debian-like).
 * Installed is not enough: Debian ships systemd-networkd with systemd but
 * brings interfaces up with ifupdown, so networkd and NetworkManager count
 * only when their unit is enabled. netplan, ifupdown and ifcfg scripts are
 * used whenever they are installed.
 */
export async function detectStacks(host: Host): Promise<{ present: { netplan: boolean; networkd: boolean; ifupdown: boolean; nm: boolean; ifcfg: boolean }; family: 'debian' | 'rhel' }> {
  const any = async (...paths: string[]): Promise<boolean> => {
    for (const p of paths) if (await host.exists(p)) return true;
    return false;
  };
  const present = {
    netplan: await any('/usr/sbin/netplan', '/usr/bin/netplan'),
    networkd: (await any('/lib/systemd/systemd-networkd', '/usr/lib/systemd/systemd-networkd')) && ((await unitEnabled(host, 'systemd-networkd.service')) || (await unitEnabled(host, 'systemd-networkd.socket'))),
    ifupdown: await any('/sbin/ifup', '/usr/sbin/ifup'),
    nm: (await any('/usr/sbin/NetworkManager', '/usr/bin/NetworkManager')) && (await unitEnabled(host, 'NetworkManager.service')),
    ifcfg: await any('/etc/sysconfig/network-scripts'),
  };
  const osRelease = (await host.readTextIfExists('/etc/os-release')) ?? '';
  const rhel = (await host.exists('/etc/redhat-release')) || /^ID(_LIKE)?=.*\b(rhel|fedora|centos)\b/m.test(osRelease);
  return { present, family: rhel ? 'rhel' : 'debian' };
}

/** Make the running system use the new files: the stack's own reload command. */
async function applyNow(ctx: ModuleContext, renderer: NetworkRendererName, net: BoundNetwork): Promise<void> {
  const { host, log } = ctx;
  const names = net.links.map((l) => l.name);
  const steps: [string, string[]][] =
    renderer === 'netplan'
      ? [['netplan', ['apply']]]
      : renderer === 'networkd'
        ? [['networkctl', ['reload']], ['networkctl', ['reconfigure', ...names]]]
        : renderer === 'nm'
          ? [['nmcli', ['connection', 'reload']], ...names.map((n): [string, string[]] => ['nmcli', ['connection', 'up', `guestctx-${n}`]])]
          : renderer === 'ifupdown'
            ? names.flatMap((n): [string, string[]][] => [['ifdown', ['--force', n]], ['ifup', [n]]])
            : names.flatMap((n): [string, string[]][] => [['ifdown', [n]], ['ifup', [n]]]);
  for (const [cmd, args] of steps) {
    if ((await host.which(cmd)) === undefined) throw new ConfigError('network', `${cmd} is not installed in the guest; the new configuration applies at the next boot`);
    const res = await host.run(cmd, args, { timeoutMs: 60_000 });
    if (res.code !== 0) throw new ConfigError('network', `${cmd} ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
  }
  log.info(`applied with ${steps.map(([c, a]) => `${c} ${a.join(' ')}`).join('; ')}`);
}

export interface NetworkPlan {
  readonly settings: NetworkSettings;
}

function inputDigest(input: NetworkInput): string {
  const canon = input.kind === 'opennebula' ? [...input.vars].filter(([k]) => /^(ETH\d+_|DNS$|SEARCH_DOMAIN$|GATEWAY_IFACE$|NETCFG_)/.test(k)).sort() : input.kind === 'eni' ? input.text : 'data' in input ? input.data : input.kind;
  return crypto().createHash('sha256').update(JSON.stringify({ kind: input.kind, canon })).digest('hex');
}

export function renderAll(net: BoundNetwork, renderer: NetworkRendererName, present: { nm: boolean; networkd: boolean }): RenderedFile[] {
  const files = RENDERERS[renderer].render(net, net.hint?.netplanRenderer ? { netplanRenderer: net.hint.netplanRenderer } : {});
  const resolv = renderResolvConf(net);
  if (resolv) files.push(resolv);
  if (present.networkd) {
    const dropIn = renderResolvedDropIn(net);
    if (dropIn) files.push(dropIn);
  }
  // Another stack owns these NICs: NetworkManager must not take them over.
  if (present.nm && renderer !== 'nm') files.push(nmUnmanagedConf(net.links.map((l) => l.name)));
  return files;
}

/** Files of the renderers that guestctx wrote before and does not write now. */
async function staleFiles(host: Host, keep: ReadonlySet<string>): Promise<string[]> {
  const stale: string[] = [];
  for (const r of Object.values(RENDERERS)) {
    for (const owned of r.owned) {
      for (const name of await host.list(owned.dir)) {
        const p = `${owned.dir}/${name}`;
        if (keep.has(p) || !name.startsWith(owned.prefix)) continue;
        const content = owned.marker ? await host.readTextIfExists(p) : undefined;
        if (isOwned(owned ? [owned] : [], p, content) && !stale.includes(p)) stale.push(p);
      }
    }
  }
  return stale;
}

/** Persistent-net rules captured in an image would rename a clone's NIC. */
async function removePersistentNetRules(host: Host, log: ModuleContext['log']): Promise<void> {
  for (const name of await host.list('/etc/udev/rules.d')) {
    if (/persistent-net.*\.rules$/.test(name) && name !== '75-persistent-net-generator.rules') {
      await host.remove(`/etc/udev/rules.d/${name}`);
      log.info(`removed stale udev rule /etc/udev/rules.d/${name}`);
    }
  }
  if (await host.exists('/lib/udev/rules.d/75-persistent-net-generator.rules')) {
    // An empty file of the same name in /etc masks the generator shipped in /lib.
    await host.writeFile('/etc/udev/rules.d/75-persistent-net-generator.rules', '', { mode: 0o644 });
  }
}

/** Everything the module would do, computed without writing: for `query network` and `render-network`. */
export async function previewNetwork(host: Host, settings: NetworkSettings): Promise<{ nics: GuestNic[]; network: BoundNetwork; renderer: NetworkRendererName; files: RenderedFile[] }> {
  const nics = await readNics(host);
  const { present, family } = await detectStacks(host);
  const net = bindInterfaces(toModel(settings.input, nics), nics);
  const renderer = settings.renderer ?? chooseRenderer(present, family, net.hint?.type) ?? 'networkd';
  // Previews render for the chosen stack even when the tools are absent on this machine.
  return { nics, network: net, renderer, files: renderAll(net, renderer, { ...present, nm: present.nm }) };
}

export const network: Module<NetworkPlan> = {
  name: 'network',
  stage: 'local',
  frequency: 'always',
  withoutDatasource: true,
  description: 'write the network configuration for the guest stack (netplan, networkd, ifupdown, NM, ifcfg)',
  parse(cfg) {
    return cfg.network ? { settings: cfg.network } : undefined;
  },
  async run(ctx: ModuleContext, plan: NetworkPlan): Promise<ModuleOutcome> {
    const { host, log, stateDir } = ctx;
    const { input } = plan.settings;
    // "<instance> <input kind> <sha256>": what was written last, and from what.
    const digest = `${ctx.instance.instanceId} ${input.kind} ${inputDigest(input)}\n`;
    const previous = await host.readTextIfExists(`${stateDir}/${INPUT_HASH}`);
    if (plan.settings.policy === 'new-instance' && previous === digest) {
      return { skipped: 'network input unchanged since it was last written; the files are left as they are' };
    }
    const [prevInstance, prevKind] = (previous ?? '').trim().split(' ');
    if (input.kind === 'fallback' && prevKind !== undefined && prevKind !== 'fallback' && (ctx.instance.datasource === 'none' || prevInstance === ctx.instance.instanceId)) {
      // The context CD was removed, or the datasource stopped describing the
      // network: the configuration it gave is kept, never replaced by DHCP.
      return { skipped: `keeping the network configuration written from ${prevKind} for instance ${prevInstance}; this boot has no network description` };
    }
    const nics = await readNics(host);
    const { present, family } = await detectStacks(host);
    let net: BoundNetwork;
    let failure: unknown;
    try {
      net = bindInterfaces(toModel(input, nics), nics);
    } catch (err) {
      failure = err;
      if (previous !== undefined) throw new ConfigError(input.origin, `${describeError(err)}; the previous network configuration is kept`, { cause: err });
      log.error(`${describeError(err)}; falling back to DHCP on the first NIC`);
      net = bindInterfaces(fallbackModel(nics), nics);
    }
    const renderer = plan.settings.renderer ?? chooseRenderer(present, family, net.hint?.type);
    if (renderer === undefined) {
      throw new ConfigError('network', 'no supported network stack found in the guest (netplan, systemd-networkd, ifupdown, NetworkManager, ifcfg scripts)');
    }
    // Render everything before writing anything: a rendering error leaves the old files whole.
    const files = renderAll(net, renderer, present);
    const written: string[] = [];
    for (const f of files) {
      if (await host.writeFile(f.path, f.content, { mode: f.mode })) written.push(f.path);
    }
    const stale = await staleFiles(host, new Set(files.map((f) => f.path)));
    for (const p of stale) await host.remove(p);
    await removePersistentNetRules(host, log);
    if (failure === undefined) {
      await host.mkdir(stateDir, { mode: 0o700, owner: 'root' });
      await host.writeFile(`${stateDir}/${INPUT_HASH}`, digest, { mode: 0o600 });
    }
    if (ctx.applyLive === true && (written.length > 0 || stale.length > 0)) await applyNow(ctx, renderer, net);
    log.info(`${renderer}: ${written.length} file(s) written${stale.length ? `, ${stale.length} stale removed` : ''} for ${net.links.map((l) => l.name).join(', ') || 'no interface'} (from ${input.origin})`);
    if (failure !== undefined) throw new ConfigError(input.origin, `${describeError(failure)}; DHCP on the first NIC was configured instead`, { cause: failure });
    return { details: { renderer, interfaces: net.links.map((l) => l.name), written, removed: stale } };
  },
};
