// bootcmd and runcmd, really executed chrooted in temp roots that have this
// machine's sh: marker files, the environment, quoting of list commands,
// failures with their exit status, repeat runs, dry run and offline skips.
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudConfig } from '../../src/config/cloud-config';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { ModuleError } from '../../src/errors';
import { renderShellScript, shellQuote } from '../../src/files/shell-script';
import { memoryLogger } from '../../src/log/logger';
import type { Host } from '../../src/host/host';
import type { InstanceData, ModuleContext } from '../../src/types';
import { bootcmd, runcmd } from '../../modules/commands';
import { addShell } from '../helpers/chroot';
import { hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';

/** The error a run must fail with (a run that succeeds fails the test). */
async function failure(p: Promise<unknown>): Promise<ModuleError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModuleError);
  return err as ModuleError;
}

let root: TempRoot;
afterEach(() => root?.cleanup());

const instance: InstanceData = { datasource: 'opennebula', source: 'test', instanceId: 'i-42', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

function ctxFor(host: Host, stage: ModuleContext['stage'] = 'local') {
  const log = memoryLogger();
  const ctx: ModuleContext = { host, log, instance, stage, stateDir: '/var/lib/guestctx' };
  return { ctx, log };
}

function cfg(cloud: CloudConfig, env: Record<string, string> = {}): GuestConfig {
  return { ...emptyGuestConfig('i-42'), cloud, scriptEnv: new Map(Object.entries(env)) };
}

function shellRoot(): TempRoot {
  const r = makeTempRoot();
  addShell(r.dir);
  return r;
}

describe('bootcmd', () => {
  it('runs strings through sh and lists directly, with INSTANCE_ID and the context in the environment', async () => {
    root = shellRoot();
    const plan = bootcmd.parse(
      cfg(
        {
          bootcmd: [
            'echo "boot $INSTANCE_ID" > /var/tmp/string.marker',
            ['/bin/sh', '-c', 'echo "list $INSTANCE_ID $ETH0_IP" > /var/tmp/list.marker'],
            'echo to the console',
          ],
        },
        { ETH0_IP: '10.0.0.23' },
      ),
    )!;
    const { ctx, log } = ctxFor(hostOn(root));
    const out = await bootcmd.run(ctx, plan);
    expect(root.read('var/tmp/string.marker')).toBe('boot i-42\n');
    expect(root.read('var/tmp/list.marker')).toBe('list i-42 10.0.0.23\n');
    expect(log.lines).toContainEqual(expect.stringContaining('bootcmd[2]: to the console'));
    expect(out && 'details' in out ? out.details : undefined).toMatchObject({ commands: [{ index: 0, exitCode: 0 }, { index: 1, exitCode: 0 }, { index: 2, exitCode: 0 }] });
  });

  it('runs every entry even after a failure, and fails with each exit status', async () => {
    root = shellRoot();
    const plan = bootcmd.parse(cfg({ bootcmd: ['exit 3', ['/no/such/program', 'x'], 'echo after > /var/tmp/after.marker'] }))!;
    const err = await failure(bootcmd.run(ctxFor(hostOn(root)).ctx, plan));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.message).toMatch(/bootcmd\[0\] \(exit 3\) exited with status 3/);
    expect(err.message).toMatch(/bootcmd\[1\] \(\/no\/such\/program x\) exited with status 127/);
    expect(root.read('var/tmp/after.marker')).toBe('after\n');
    expect(err.details).toMatchObject({ commands: [{ exitCode: 3 }, { exitCode: 127 }, { exitCode: 0 }] });
  });

  it('runs again on every boot and leaves nothing else behind', async () => {
    root = shellRoot();
    const plan = bootcmd.parse(cfg({ bootcmd: ['echo boot >> /var/tmp/boots'] }))!;
    const host = hostOn(root);
    await bootcmd.run(ctxFor(host).ctx, plan);
    await bootcmd.run(ctxFor(host).ctx, plan);
    expect(root.read('var/tmp/boots')).toBe('boot\nboot\n');
    // The module itself writes no file: only the two commands.
    expect(host.changes().map((c) => c.kind)).toEqual(['command', 'command']);
  });

  it('records the command shapes (chrooted sh -c, argv as given)', async () => {
    root = makeTempRoot();
    root.write('bin/sh', '#!/bin/sh\n', 0o755);
    const rec = recorder();
    await bootcmd.run(ctxFor(hostOn(root, { executor: rec.executor })).ctx, bootcmd.parse(cfg({ bootcmd: ['mkdir -p /run/x', ['touch', '/run/x/a b']] }))!);
    expect(rec.calls).toEqual([
      ['chroot', root.dir, '/usr/bin/env', '-C', '/', '/bin/sh', '-c', 'mkdir -p /run/x'],
      ['chroot', root.dir, '/usr/bin/env', '-C', '/', 'touch', '/run/x/a b'],
    ]);
  });

  it('is skipped offline when the root has no shell, and only recorded in a dry run', async () => {
    root = makeTempRoot();
    const out = await bootcmd.run(ctxFor(hostOn(root)).ctx, bootcmd.parse(cfg({ bootcmd: ['true'] }))!);
    expect(out && 'skipped' in out ? out.skipped : undefined).toMatch(/has no \/bin\/sh/);
    const host = hostOn(root, { dryRun: true });
    await bootcmd.run(ctxFor(host).ctx, bootcmd.parse(cfg({ bootcmd: ['touch /x'] }))!);
    expect(host.changes()).toEqual([{ kind: 'command', argv: ['/bin/sh', '-c', 'touch /x'], ran: false }]);
    expect(existsSync(root.file('x'))).toBe(false);
  });

  it('has nothing to do without bootcmd', () => {
    expect(bootcmd.parse(cfg({}))).toBeUndefined();
    expect(bootcmd.parse(cfg({ bootcmd: [] }))).toBeUndefined();
  });
});

describe('runcmd', () => {
  const awkward = ["it's", 'a b', '$HOME', '`id`', '"q"', '', 'semi;colon', 'new\nline'];

  it('stores one script and runs it; list words reach the program unchanged', async () => {
    root = shellRoot();
    const plan = runcmd.parse(
      cfg({
        runcmd: [
          'echo "runcmd $INSTANCE_ID" > /var/tmp/runcmd.marker',
          ['/bin/sh', '-c', 'for a in "$@"; do printf "[%s]\\n" "$a"; done > /var/tmp/args', 'argv0', ...awkward],
        ],
      }),
    )!;
    const out = await runcmd.run(ctxFor(hostOn(root), 'final').ctx, plan);
    expect(root.read('var/tmp/runcmd.marker')).toBe('runcmd i-42\n');
    expect(root.read('var/tmp/args')).toBe(awkward.map((a) => `[${a}]\n`).join(''));
    const script = 'var/lib/guestctx/instance/scripts/runcmd';
    expect(root.read(script)).toMatch(/^#!\/bin\/sh\necho "runcmd \$INSTANCE_ID"/);
    expect(root.mode(script)).toBe(0o700);
    expect(out && 'details' in out ? out.details : undefined).toMatchObject({ exitCode: 0, commands: 2 });
  });

  it('fails with the exit status of the script', async () => {
    root = shellRoot();
    const err = await failure(runcmd.run(ctxFor(hostOn(root), 'final').ctx, runcmd.parse(cfg({ runcmd: ['echo one', 'exit 7'] }))!));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.message).toMatch(/cloud-config runcmd: exited with status 7/);
    expect(err.details).toMatchObject({ exitCode: 7, script: '/var/lib/guestctx/instance/scripts/runcmd' });
  });

  it('is skipped offline without a shell (the script is still stored)', async () => {
    root = makeTempRoot();
    const out = await runcmd.run(ctxFor(hostOn(root), 'final').ctx, runcmd.parse(cfg({ runcmd: ['true'] }))!);
    expect(out && 'skipped' in out ? out.skipped : undefined).toMatch(/needs the running guest/);
    expect(root.read('var/lib/guestctx/instance/scripts/runcmd')).toBe('#!/bin/sh\ntrue\n');
  });
});

describe('shell rendering', () => {
  it.each([
    ['plain', 'plain'],
    ['/usr/bin/x', '/usr/bin/x'],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ['', "''"],
    ['$x', "'$x'"],
  ])('quotes %j as %s', (word, quoted) => {
    expect(shellQuote(word)).toBe(quoted);
  });

  it('renders strings as lines and lists as quoted words', () => {
    expect(renderShellScript(['ls -l /', ['echo', 'a b'], 'for i in 1 2; do\n  echo $i\ndone'])).toBe("#!/bin/sh\nls -l /\necho 'a b'\nfor i in 1 2; do\n  echo $i\ndone\n");
  });

  it('the script text is what sh runs (read back from the stored file)', async () => {
    root = shellRoot();
    await runcmd.run(ctxFor(hostOn(root), 'final').ctx, runcmd.parse(cfg({ runcmd: [['/bin/sh', '-c', 'echo "$1" > /var/tmp/q', '-', "x'y"]] }))!);
    expect(readFileSync(root.file('var/tmp/q'), 'utf8')).toBe("x'y\n");
  });
});
