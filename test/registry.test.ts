// Every datasource folder and every module file is in its registry, names are
// unique, and the registries are in a sensible order.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATASOURCES } from '../datasources';
import { MODULES } from '../modules';
import { STAGES } from '../src/types';

const top = path.resolve(__dirname, '..');

function exportedObjects(mod: Record<string, unknown>): unknown[] {
  return Object.values(mod).filter((v) => typeof v === 'object' && v !== null && 'name' in v);
}

describe('registries', () => {
  it('registers every datasource folder', async () => {
    const folders = readdirSync(path.join(top, 'datasources')).filter((f) => statSync(path.join(top, 'datasources', f)).isDirectory());
    for (const f of folders) {
      const mod = (await import(path.join(top, 'datasources', f, 'index.ts'))) as Record<string, unknown>;
      const objs = exportedObjects(mod).filter((o) => typeof (o as { detect?: unknown }).detect === 'function');
      expect(objs.length, `datasources/${f} exports a datasource`).toBeGreaterThan(0);
      for (const o of objs) expect(DATASOURCES, `datasources/${f} is registered`).toContain(o);
    }
    expect(new Set(DATASOURCES.map((d) => d.name)).size).toBe(DATASOURCES.length);
  });

  it('registers every module file or folder', async () => {
    const entries = readdirSync(path.join(top, 'modules')).filter((f) => f !== 'index.ts');
    for (const f of entries) {
      const file = statSync(path.join(top, 'modules', f)).isDirectory() ? path.join(top, 'modules', f, 'index.ts') : path.join(top, 'modules', f);
      const mod = (await import(file)) as Record<string, unknown>;
      const objs = exportedObjects(mod).filter((o) => typeof (o as { run?: unknown }).run === 'function');
      expect(objs.length, `modules/${f} exports a module`).toBeGreaterThan(0);
      for (const o of objs) expect(MODULES, `modules/${f} is registered`).toContain(o);
    }
    expect(new Set(MODULES.map((m) => m.name)).size).toBe(MODULES.length);
  });

  it('lists local datasources before network ones, modules with a valid stage', () => {
    const order = DATASOURCES.map((d) => STAGES.indexOf(d.stage));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const m of MODULES) expect(STAGES).toContain(m.stage);
  });
});
