// Loads a network scenario folder (test/fixtures/network/<name>/): the input in
// whichever format the folder holds, the guest's NICs and render options, and
// renders it with every renderer. Shared by the golden and real-tool tests.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';
import { type BoundNetwork, bindInterfaces } from '../../src/network/bind';
import { type GuestNic, fallbackModel } from '../../src/network/fallback';
import { fromCloudInitV1 } from '../../src/network/from-cloudinit-v1';
import { fromCloudInitV2 } from '../../src/network/from-cloudinit-v2';
import { type Ec2NetworkInput, fromEc2 } from '../../src/network/from-ec2';
import { fromOpenNebula } from '../../src/network/from-opennebula';
import { fromOpenStack } from '../../src/network/from-openstack';
import { RENDERERS } from '../../src/network/index';
import type { NetworkModel } from '../../src/network/model';
import type { RenderOptions, RenderedFile } from '../../src/network/render-common';
import { renderResolvConf, renderResolvedDropIn } from '../../src/network/render-resolv';

export const FIXTURES = fileURLToPath(new URL('../fixtures/network', import.meta.url));

export interface Scenario {
  readonly name: string;
  readonly dir: string;
  readonly model: NetworkModel;
  readonly nics: GuestNic[];
  readonly bound: BoundNetwork;
  readonly options: RenderOptions;
  /** renderer name (plus "resolv") -> files. */
  readonly outputs: Record<string, RenderedFile[]>;
}

export function scenarioNames(): string[] {
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

export function convertInput(dir: string, nics: GuestNic[]): NetworkModel {
  const at = (f: string): string => join(dir, f);
  if (existsSync(at('vars.json'))) {
    const vars = readJson(at('vars.json')) as Record<string, string>;
    return fromOpenNebula(new Map(Object.entries(vars)));
  }
  if (existsSync(at('network_data.json'))) return fromOpenStack(readJson(at('network_data.json')), { origin: 'network_data.json' });
  if (existsSync(at('v1.yaml'))) return fromCloudInitV1(loadYaml(readFileSync(at('v1.yaml'), 'utf8')));
  if (existsSync(at('v2.yaml'))) return fromCloudInitV2(loadYaml(readFileSync(at('v2.yaml'), 'utf8')));
  if (existsSync(at('ec2.json'))) return fromEc2(readJson(at('ec2.json')) as Ec2NetworkInput);
  if (existsSync(at('fallback.json'))) return fallbackModel(nics);
  throw new Error(`${dir}: no input file (vars.json, network_data.json, v1.yaml, v2.yaml, ec2.json, fallback.json)`);
}

export function loadScenario(name: string): Scenario {
  const dir = join(FIXTURES, name);
  const nics = readJson(join(dir, 'nics.json')) as GuestNic[];
  const options = existsSync(join(dir, 'options.json')) ? (readJson(join(dir, 'options.json')) as RenderOptions) : {};
  const model = convertInput(dir, nics);
  const bound = bindInterfaces(model, nics);
  const outputs: Record<string, RenderedFile[]> = {};
  for (const r of Object.values(RENDERERS)) outputs[r.name] = r.render(bound, options);
  outputs['resolv'] = [renderResolvConf(bound), renderResolvedDropIn(bound)].filter(
    (f): f is RenderedFile => f !== undefined,
  );
  return { name, dir, model, nics, bound, options, outputs };
}
