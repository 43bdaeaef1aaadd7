// Fault injection against the metadata service, at the level of a whole run
// (runPipeline with the ec2 datasource forced and metadataUrl pointing at a
// real server on 127.0.0.1): refused connections, a black hole, a trickling
// answer, 500s, missing optional keys, a service without IMDSv2 and a token
// that expires mid-run. Every case ends within the network budget (plus a
// fixed slack for process work) with a clear result: the instance, or an error
// naming the URL and the reason. Only the hostname module runs, so the
// outcome is the datasource's, whatever other modules the guest lacks tools for.
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostname } from '../../modules/hostname';
import { UsageError } from '../../src/errors';
import { memoryLogger } from '../../src/log/logger';
import { runPipeline, type PipelineResult } from '../../src/pipeline';
import { loadSpec, startMetadataServer, TOKEN_PATH, type MetadataServer, type MetadataSpec } from '../helpers/metadata-server';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const SPEC = loadSpec(path.join(__dirname, '../fixtures/datasources/ec2/one-nic/metadata.json'));
const MD = '/latest/meta-data/';
const BUDGET_MS = 1500;
/** Work besides waiting (modules, state files, timers' granularity). */
const SLACK_MS = 1500;

let root: TempRoot | undefined;
let server: MetadataServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  root?.cleanup();
  root = undefined;
});

async function serve(spec: MetadataSpec = SPEC): Promise<MetadataServer> {
  server = await startMetadataServer(spec);
  return server;
}

interface Outcome {
  readonly result?: PipelineResult;
  readonly error?: Error;
  readonly ms: number;
  readonly log: ReturnType<typeof memoryLogger>;
}

async function runAgainst(url: string): Promise<Outcome> {
  root = makeTempRoot();
  const log = memoryLogger();
  const t0 = performance.now();
  try {
    const result = await runPipeline({ host: hostOn(root), log, stages: ['network'], datasource: 'ec2', metadataUrl: url, networkBudgetMs: BUDGET_MS, modules: [hostname] });
    return { result, ms: performance.now() - t0, log };
  } catch (err) {
    return { error: err as Error, ms: performance.now() - t0, log };
  }
}

function withoutFiles(spec: MetadataSpec, ...prefixes: string[]): MetadataSpec {
  return { ...spec, files: Object.fromEntries(Object.entries(spec.files).filter(([p]) => !prefixes.some((x) => p.startsWith(x)))) };
}

describe('metadata service faults during a run', () => {
  it('connection refused (a closed port): fails within the budget, naming the URL and the reason', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const out = await runAgainst(`http://127.0.0.1:${port}`);
    expect(out.error).toBeInstanceOf(UsageError);
    expect(out.error?.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*(ECONNREFUSED|refused)`));
    expect(out.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
  });

  it('a black hole (accepts, never answers): gives up when the budget is spent', async () => {
    const srv = await serve();
    srv.setFault(TOKEN_PATH, { kind: 'blackhole' });
    const out = await runAgainst(srv.url);
    expect(out.error).toBeInstanceOf(UsageError);
    expect(out.error?.message).toMatch(/api\/token/);
    expect(out.error?.message).toMatch(/no complete answer|budget|time/i);
    expect(out.ms).toBeGreaterThanOrEqual(BUDGET_MS * 0.5);
    expect(out.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
  });

  it('a trickling answer (1 byte every 100 ms) cannot stretch the run past the budget', async () => {
    const srv = await serve();
    srv.setFault(`${MD}instance-id`, { kind: 'trickle', intervalMs: 100, chunkBytes: 1 });
    const out = await runAgainst(srv.url);
    expect(out.error).toBeInstanceOf(UsageError);
    expect(out.error?.message).toMatch(/instance-id/);
    expect(out.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
  });

  it('two 500s are retried inside the budget and the run succeeds', async () => {
    const srv = await serve();
    srv.setFault(`${MD}instance-id`, { kind: 'status', status: 500, times: 2 });
    const out = await runAgainst(srv.url);
    expect(out.error).toBeUndefined();
    expect(out.result?.instance?.instanceId).toBe('i-0123456789abcdef0');
    expect(srv.count('GET', `${MD}instance-id`)).toBe(3);
    expect(out.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
  });

  it('500 forever: fails within the budget with the status in the message', async () => {
    const srv = await serve();
    srv.setFault(`${MD}instance-id`, { kind: 'status', status: 500 });
    const out = await runAgainst(srv.url);
    expect(out.error).toBeInstanceOf(UsageError);
    expect(out.error?.message).toMatch(/instance-id.*500|500.*instance-id/);
    expect(out.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
  });

  it('404 on optional keys (no keys, no user-data, no network tree): the run succeeds without them', async () => {
    const srv = await serve(withoutFiles(SPEC, `${MD}public-keys`, '/latest/user-data', `${MD}network/`, `${MD}block-device-mapping`));
    const out = await runAgainst(srv.url);
    expect(out.error).toBeUndefined();
    expect(out.result?.exitCode).toBe(0);
    expect(out.result?.instance?.publicKeys).toEqual([]);
    expect(out.result?.instance?.userData).toBeUndefined();
    expect(out.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
  });

  it('a service that refuses tokens (404) is read with IMDSv1: no token header is ever sent', async () => {
    const srv = await serve({ ...SPEC, mode: 'v1-only', tokenRefusalStatus: 404 });
    const out = await runAgainst(srv.url);
    expect(out.error).toBeUndefined();
    expect(out.result?.instance?.instanceId).toBe('i-0123456789abcdef0');
    expect(srv.count('PUT', TOKEN_PATH)).toBe(1);
    expect(srv.requests.filter((r) => r.method === 'GET' && r.headers['x-aws-ec2-metadata-token'] !== undefined)).toEqual([]);
  });

  it('a token that expires mid-run is renewed once and the run succeeds; no token reaches the log', async () => {
    const srv = await serve({ ...SPEC, mode: 'v2-required' });
    srv.setFault(`${MD}instance-id`, { kind: 'expire-tokens', times: 1 });
    const out = await runAgainst(srv.url);
    expect(out.error).toBeUndefined();
    expect(out.result?.instance?.hostname).toMatch(/^ip-172-31-10-20/);
    expect(srv.count('PUT', TOKEN_PATH)).toBe(2);
    const text = out.log.lines.join('\n') + JSON.stringify(out.log.events);
    for (const t of srv.tokens) expect(text).not.toContain(t);
    expect(out.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
  });
});
