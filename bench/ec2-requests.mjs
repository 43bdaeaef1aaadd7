// Section 4: load on the metadata service. Every request the loopback EC2
// test server receives during one `guestctx run`, for the one-NIC and the
// two-NIC trees (the second one requires IMDSv2 tokens), with the paths, so a
// change that adds a request shows up by name.
import { rmSync } from 'node:fs';
import { failedModulesOf } from './agent.mjs';
import { dropRoot, freshRoot, makeTemplateRoot } from './lib/guest-root.mjs';
import { EXECUTABLES, TOP, ec2Nics, ec2Spec, metadataServerModule } from './lib/inputs.mjs';
import { measure } from './lib/measure.mjs';

export const EC2_TARGET_REQUESTS = 12;

export async function runEc2RequestBench({ runs, log }) {
  const { startMetadataServer } = await metadataServerModule();
  const out = [];
  for (const scenario of ['one-nic', 'two-nics']) {
    const spec = ec2Spec(scenario);
    const template = makeTemplateRoot(ec2Nics(spec));
    const srv = await startMetadataServer(spec);
    try {
      const counts = [];
      let paths = [];
      let problem;
      for (let i = 0; i < runs; i++) {
        const root = freshRoot(template);
        const before = srv.requests.length;
        try {
          const r = await measure([...EXECUTABLES[1].argv, 'run', '--datasource', 'ec2', '--metadata-url', srv.url, '--root', root], { cwd: TOP });
          if (r.code !== 0 && !(r.code === 1 && failedModulesOf(r.stderr).length)) problem = `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`;
        } finally {
          dropRoot(root);
        }
        const mine = srv.requests.slice(before);
        counts.push(mine.length);
        paths = mine.map((q) => `${q.method} ${q.path}`);
      }
      out.push({ scenario, nics: ec2Nics(spec).length, mode: spec.mode, requests: Math.max(...counts), perRun: counts, paths, target: EC2_TARGET_REQUESTS, ...(problem ? { problem } : {}) });
      log(`ec2 ${scenario}: ${counts.join(', ')} request(s) per run${problem ? `  PROBLEM: ${problem}` : ''}`);
    } finally {
      await srv.close();
      rmSync(template, { recursive: true, force: true });
    }
  }
  return out;
}
