// Section 1: what one guestctx run costs on the host, per datasource, for the
// bundle under node and for the single executable: wall time, user+sys CPU
// and peak RSS over N runs after a warm-up, each run on a fresh copy of a
// template guest root (the copy is made before the clock starts). The EC2
// runs also count the requests the metadata server received.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { dropRoot, freshRoot, makeTemplateRoot, DEFAULT_NICS } from './lib/guest-root.mjs';
import { EXECUTABLES, TOP, ec2Nics, ec2Spec, makeIso, metadataServerModule } from './lib/inputs.mjs';
import { measure } from './lib/measure.mjs';
import { round, summarize } from './lib/stats.mjs';

/** The datasource scenarios: how to make the input and the CLI arguments. */
export async function scenarios() {
  const list = [
    {
      id: 'opennebula',
      title: 'OpenNebula context CD (ISO, context.sh)',
      seed: () => makeIso(path.join(TOP, 'test/fixtures/opennebula/basic'), 'CONTEXT', 'opennebula.iso'),
      args: (seed) => ['run', '--seed', seed],
      nics: DEFAULT_NICS,
      hostname: 'web-01',
    },
    {
      id: 'configdrive',
      title: 'OpenStack config drive (ISO config-2)',
      seed: () => makeIso(path.join(TOP, 'bench/fixtures/configdrive'), 'config-2', 'configdrive.iso'),
      args: (seed) => ['run', '--seed', seed],
      nics: DEFAULT_NICS,
      hostname: 'bench-cd',
    },
    {
      id: 'nocloud',
      title: 'NoCloud (ISO cidata: meta-data, user-data, network-config)',
      seed: () => makeIso(path.join(TOP, 'test/fixtures/cli/nocloud'), 'cidata', 'nocloud.iso'),
      args: (seed) => ['run', '--seed', seed],
      nics: DEFAULT_NICS,
      hostname: 'web-02',
    },
  ];
  const spec = ec2Spec('one-nic');
  list.push({
    id: 'ec2',
    title: 'EC2 metadata service (IMDSv2, one NIC, loopback test server)',
    server: spec,
    args: (url) => ['run', '--datasource', 'ec2', '--metadata-url', url],
    nics: ec2Nics(spec),
    hostname: 'ip-172-31-10-20',
  });
  list.push({ id: 'version', title: '--version (start-up floor)', args: () => ['--version'], noRoot: true });
  return list;
}

/** Module names from the summary lines "guestctx: stage S: failed; ...; FAILED a, b (N ms)". */
export function failedModulesOf(stderr) {
  const names = new Set();
  for (const m of stderr.matchAll(/^guestctx: stage \S+: .*FAILED ([^(]+)\(/gm)) for (const n of m[1].split(',')) if (n.trim()) names.add(n.trim());
  return [...names].sort();
}

/** One measured run; the guest root copy is made and removed outside the timing. */
async function oneRun(exe, sc, input, template, srv) {
  const root = sc.noRoot ? undefined : freshRoot(template);
  try {
    const before = srv ? srv.requests.length : 0;
    const argv = [...exe.argv, ...sc.args(input), ...(root ? ['--root', root] : [])];
    const r = await measure(argv, { cwd: TOP });
    const requests = srv ? srv.requests.length - before : undefined;
    // Exit 1 = some module failed and the rest ran: on the bare benchmark root that is a module
    // needing a guest tool (groupadd, chpasswd) that is not there. Recorded by name, not fatal.
    const failedModules = failedModulesOf(r.stderr);
    let problem;
    if (r.code !== 0 && !(r.code === 1 && failedModules.length)) problem = `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
    else if (sc.hostname && readFileSync(path.join(root, 'etc/hostname'), 'utf8').trim() !== sc.hostname) problem = `hostname not set to ${sc.hostname}`;
    return { ...r, requests, problem, failedModules };
  } finally {
    if (root) dropRoot(root);
  }
}

/** Inputs for one scenario: the seed or a running metadata server, and a template root. */
export async function prepare(sc) {
  const { startMetadataServer } = await metadataServerModule();
  const template = sc.noRoot ? undefined : makeTemplateRoot(sc.nics);
  const srv = sc.server ? await startMetadataServer(sc.server) : undefined;
  const input = srv ? srv.url : sc.seed?.();
  return {
    input,
    template,
    srv,
    async close() {
      await srv?.close();
      if (template) rmSync(template, { recursive: true, force: true });
    },
  };
}

export async function runAgentBench({ runs, log }) {
  const results = [];
  for (const sc of await scenarios()) {
    const { input, template, srv, close } = await prepare(sc);
    try {
      for (const exe of EXECUTABLES) {
        await oneRun(exe, sc, input, template, srv); // warm-up: page cache, first exec of the binary
        const all = [];
        for (let i = 0; i < runs; i++) all.push(await oneRun(exe, sc, input, template, srv));
        const problems = [...new Set(all.map((s) => s.problem).filter(Boolean))];
        // Statistics over the runs that did their work; a broken run's timing means nothing.
        const good = all.filter((s) => !s.problem);
        const samples = good.length ? good : all;
        const failedModules = [...new Set(samples.flatMap((s) => s.failedModules))].sort();
        const res = {
          scenario: sc.id,
          title: sc.title,
          executable: exe.name,
          runs,
          goodRuns: good.length,
          wallMs: summarize(samples.map((s) => s.wallMs)),
          cpuMs: summarize(samples.map((s) => s.cpuMs)),
          userMs: summarize(samples.map((s) => s.userMs)),
          sysMs: summarize(samples.map((s) => s.sysMs)),
          peakRssMB: summarize(samples.map((s) => (s.maxRssKiB * 1024) / 1e6)),
          ...(srv ? { requests: summarize(samples.map((s) => s.requests)) } : {}),
          ok: problems.length === 0,
          ...(failedModules.length ? { failedModules } : {}),
          ...(problems.length ? { problems } : {}),
        };
        results.push(res);
        log(`agent ${sc.id.padEnd(11)} ${exe.short}: wall ${round(res.wallMs.median)} ms, cpu ${round(res.cpuMs.median)} ms, rss ${round(res.peakRssMB.median)} MB${failedModules.length ? ` (failed on the bare root: ${failedModules.join(', ')})` : ''}${problems.length ? `  PROBLEM: ${problems.join('; ')}` : ''}`);
      }
    } finally {
      await close();
    }
  }
  return results;
}
