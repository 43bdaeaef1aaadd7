// Run a TypeScript entry (test/robustness/children/*.ts) in its own Node
// process: bundled once with esbuild, then spawned with a hard timeout. Used
// where the test process itself must not be at risk (an exception thrown from
// a stream callback) or where memory must be measured on its own (maxRSS).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

const outDir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-child-'));
const bundles = new Map<string, Promise<string>>();
process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));

function bundle(name: string): Promise<string> {
  let p = bundles.get(name);
  if (p === undefined) {
    const outfile = path.join(outDir, `${name}.cjs`);
    p = build({ entryPoints: [path.join(__dirname, 'children', `${name}.ts`)], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile, logLevel: 'error' }).then(() => outfile);
    bundles.set(name, p);
  }
  return p;
}

export async function runChild(name: string, args: readonly string[], opts: { timeoutMs: number; nodeArgs?: readonly string[] }): Promise<ChildResult> {
  const file = await bundle(name);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
