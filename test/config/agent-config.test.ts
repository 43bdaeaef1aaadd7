// guestctx.yaml: the shipped default file parses cleanly, settings apply,
// drop-ins override, and each bad key is one error naming file and key.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_AGENT_CONFIG, loadAgentConfig } from '../../src/config/agent-config';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());

describe('guestctx.yaml', () => {
  it('no file: the defaults', async () => {
    root = makeTempRoot();
    expect(await loadAgentConfig(hostOn(root))).toEqual({ config: DEFAULT_AGENT_CONFIG, errors: [], files: [] });
  });

  it('the file the packages ship parses without errors, and uncommented gives the defaults', async () => {
    root = makeTempRoot();
    const shipped = readFileSync(path.join(__dirname, '../../packaging/etc/guestctx.yaml'), 'utf8');
    root.write('etc/guestctx/guestctx.yaml', shipped);
    expect((await loadAgentConfig(hostOn(root))).errors).toEqual([]);
    // Uncomment the settings (keys and their indented values), not the prose.
    const uncommented = shipped.replace(/^#(?=[a-z_]+:|  [a-z_-])/gm, '');
    root.write('etc/guestctx/guestctx.yaml', uncommented);
    const { config, errors } = await loadAgentConfig(hostOn(root));
    expect(errors.map((e) => e.describe())).toEqual([]);
    expect(config.networkBudgetMs).toBe(5000);
    expect(config.defaultUser).toEqual(DEFAULT_AGENT_CONFIG.defaultUser);
    expect(config.datasources).toContain('opennebula');
  });

  it('drop-ins override in name order; bad keys are reported and skipped', async () => {
    root = makeTempRoot();
    root.write('etc/guestctx/guestctx.yaml', 'network_timeout: 3\nnetwork: {renderer: networkd}\n');
    root.write('etc/guestctx/guestctx.yaml.d/10-a.yaml', 'network_timeout: 2\n');
    root.write('etc/guestctx/guestctx.yaml.d/20-b.yaml', 'network: {renderer: wifi}\nmodules: {disabled: [power-state]}\n');
    const { config, errors } = await loadAgentConfig(hostOn(root));
    expect(config.networkBudgetMs).toBe(2000);
    expect(config.networkRenderer).toBe('networkd');
    expect(config.disabledModules).toEqual(['power-state']);
    expect(errors.map((e) => e.describe())).toEqual(['/etc/guestctx/guestctx.yaml.d/20-b.yaml: network.renderer: expected auto or one of netplan, networkd, ifupdown, nm, ifcfg']);
  });

  it('invalid YAML names the file and line', async () => {
    root = makeTempRoot();
    root.write('etc/guestctx/guestctx.yaml', 'modules:\n  disabled: [a\n');
    const { errors } = await loadAgentConfig(hostOn(root));
    expect(errors[0]?.describe()).toMatch(/^\/etc\/guestctx\/guestctx\.yaml:\d+: is not valid YAML/);
  });
});
