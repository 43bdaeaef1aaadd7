// Idempotence of whole runs: every stage run twice, a dry run first, or a
// second boot of the same instance must leave exactly the tree a single run
// leaves, and a dry run must change nothing at all. Trees are compared file by
// file (path, type, mode, owner, content). Excluded, because they record *when*
// rather than *what*: the contents of status.json (timestamps, durations, the
// boot id), of the log file, of the per-instance and once markers under
// sem/ (a timestamp each; their names are compared) and of boot-finished (the
// time the boot finished). Everything else must match byte for byte.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/log/logger';
import { runPipeline } from '../../src/pipeline';
import { STAGES, type Stage } from '../../src/types';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';
import { ALICE_KEY, contextSeed } from './seed';

const TIMESTAMPED = [/^var\/lib\/guestctx\/status\.json$/, /^var\/log\/guestctx\.log$/, /^var\/lib\/guestctx\/sem\/.+\/[^/]+$/, /^var\/lib\/guestctx\/instance\/boot-finished$/];

/** path -> "type mode uid:gid digest" for every entry of the tree. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const rel = path.relative(dir, p);
      const s = lstatSync(p);
      const meta = `${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid}`;
      if (s.isDirectory()) {
        out[rel] = `dir ${meta}`;
        walk(p);
      } else if (s.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`;
      else {
        const content = TIMESTAMPED.some((re) => re.test(rel)) ? '(timestamped)' : createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
        out[rel] = `file ${meta} ${content}`;
      }
    }
  };
  walk(dir);
  return out;
}

const USER_DATA = `#cloud-config
write_files:
  - {path: /etc/motd, content: "managed by guestctx\\n", permissions: '0644'}
  - {path: /etc/app/app.env, content: "PORT=8080\\n", append: true}
runcmd:
  - [echo, hello]
final_message: "up"
`;

const VARS = {
  SET_HOSTNAME: 'idem-01.example.org',
  SSH_PUBLIC_KEY: ALICE_KEY,
  ETH0_MAC: '02:00:0a:00:00:17',
  ETH0_IP: '10.0.0.23',
  ETH0_MASK: '255.255.255.0',
  ETH0_GATEWAY: '10.0.0.1',
  ETH0_DNS: '10.0.0.1',
  START_SCRIPT: '#!/bin/sh\necho started\n',
  USER_DATA,
};

const roots: TempRoot[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) r.cleanup();
});

async function run(seed: string, stages: readonly Stage[], dryRun = false): Promise<TempRoot> {
  const r = roots.at(-1) as TempRoot;
  await runPipeline({ host: hostOn(r, { dryRun }), log: memoryLogger(), stages, seed });
  return r;
}

function fresh(): TempRoot {
  const r = makeTempRoot();
  roots.push(r);
  return r;
}

describe('idempotence of whole runs', () => {
  it('stages run twice, a dry run first, and a second boot all equal a single run; a dry run changes nothing', async () => {
    const seed = contextSeed(VARS);

    fresh();
    const single = snapshot((await run(seed, STAGES)).dir);
    // The run did configure something worth comparing.
    expect(Object.keys(single)).toEqual(expect.arrayContaining(['etc/motd', 'etc/hostname', 'root/.ssh/authorized_keys', 'etc/network/interfaces.d/guestctx', 'var/lib/guestctx/status.json']));

    fresh();
    for (const stage of STAGES) {
      await run(seed, [stage]);
      await run(seed, [stage]);
    }
    expect(snapshot((roots.at(-1) as TempRoot).dir)).toEqual(single);

    const r = fresh();
    const pristine = snapshot(r.dir);
    await run(seed, STAGES, true);
    expect(snapshot(r.dir)).toEqual(pristine);
    await run(seed, STAGES);
    expect(snapshot(r.dir)).toEqual(single);

    // A second boot of the same instance.
    await run(seed, STAGES);
    expect(snapshot(r.dir)).toEqual(single);
  });
});
