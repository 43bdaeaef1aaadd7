// OpenNebula context over VMware guestinfo: detection from DMI and the tools,
// the context and files read through vmtoolsd (recorded, answered like the
// real tool: exit 1 and "No value found" for an unset key).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/log/logger';
import { runPipeline } from '../../src/pipeline';
import { STAGES, type DatasourceContext } from '../../src/types';
import { listLabels } from '../../src/detect/labels';
import { vmwareGuestinfo, CONTEXT_KEY } from '../../datasources/vmware-guestinfo';
import { hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());
const CONTEXT = readFileSync(path.join(__dirname, '../fixtures/opennebula/basic/context.sh'));

function guestinfo(keys: Record<string, string>) {
  return recorder((argv) => {
    const cmd = argv.find((a) => a.startsWith('info-get '));
    if (cmd === undefined) return undefined;
    const v = keys[cmd.slice('info-get '.length)];
    return v === undefined ? { code: 1, stdout: '', stderr: 'No value found\n' } : { code: 0, stdout: `${v}\n`, stderr: '' };
  });
}

function vmwareRoot(): TempRoot {
  const r = makeTempRoot();
  r.write('sys/class/dmi/id/sys_vendor', 'VMware, Inc.\n');
  r.write('sys/class/dmi/id/product_name', 'VMware Virtual Platform\n');
  r.write('usr/bin/vmtoolsd', '#!/bin/sh\n', 0o755);
  return r;
}

function ctxOf(host: ReturnType<typeof hostOn>): DatasourceContext {
  return { host, log: memoryLogger(), networkBudgetMs: 1000, cmdline: '', labels: () => listLabels(host), onCleanup: () => undefined };
}

describe('vmware-guestinfo', () => {
  it('is not detected on other machines, nor without the tools, and asks nothing then', async () => {
    root = makeTempRoot();
    const rec = guestinfo({});
    expect((await vmwareGuestinfo.detect(ctxOf(hostOn(root, { executor: rec.executor })))).evidence).toMatch(/not a VMware machine/);
    root.write('sys/class/dmi/id/sys_vendor', 'VMware, Inc.\n');
    expect((await vmwareGuestinfo.detect(ctxOf(hostOn(root, { executor: rec.executor })))).evidence).toMatch(/without VMware Tools/);
    expect(rec.calls).toEqual([]);
  });

  it('reads context.sh and files from guestinfo and configures the guest', async () => {
    root = vmwareRoot();
    const rec = guestinfo({ [CONTEXT_KEY]: CONTEXT.toString('base64'), 'guestinfo.opennebula.file.0': Buffer.from('echo hi\n').toString('base64') });
    const host = hostOn(root, { executor: rec.executor });
    const det = await vmwareGuestinfo.detect(ctxOf(host));
    expect(det).toMatchObject({ found: true, location: 'vmtoolsd' });
    const data = await vmwareGuestinfo.read(ctxOf(host), det);
    expect(data.instanceId).toBe('4711');
    expect((await data.medium?.readFile('/file.0'))?.toString()).toBe('echo hi\n');
    expect(rec.calls.map((c) => c.slice(-2))).toContainEqual(['--cmd', `info-get ${CONTEXT_KEY}`]);

    const result = await runPipeline({ host: hostOn(root, { executor: rec.executor }), log: memoryLogger(), stages: STAGES });
    expect(result.instance?.datasource).toBe('vmware-guestinfo');
    expect(root.read('etc/hostname')).toBe('web-01\n');
  });

  it('a guestinfo value that is not base64 is a clear error naming the key', async () => {
    root = vmwareRoot();
    const rec = guestinfo({ [CONTEXT_KEY]: 'not base64 at all!' });
    const host = hostOn(root, { executor: rec.executor });
    await expect(vmwareGuestinfo.read(ctxOf(host), { found: true, evidence: '', location: 'vmtoolsd' })).rejects.toMatchObject({ source: CONTEXT_KEY, message: 'is not base64' });
  });
});
