// Run one command under rusage.py and return what it cost (wall, user, sys,
// peak RSS) with its exit code and output. Asynchronous on purpose: the EC2
// benchmark serves metadata from this same process while the child runs.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RUSAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'rusage.py');
const OUTPUT_CAP = 64 * 1024;

/**
 * argv: the command; opts.env, opts.cwd as for spawn.
 * Resolves { code, wallMs, userMs, sysMs, cpuMs, maxRssKiB, stdout, stderr }.
 */
export function measure(argv, opts = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-bench-m-'));
  const out = path.join(dir, 'rusage.json');
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [RUSAGE, out, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { if (stdout.length < OUTPUT_CAP) stdout += c; });
    child.stderr.on('data', (c) => { if (stderr.length < OUTPUT_CAP) stderr += c; });
    child.on('error', (err) => reject(new Error(`python3 did not start (needed to measure ${argv[0]}): ${err.message}`, { cause: err })));
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`rusage.py exited ${code}: ${stderr.slice(-500)}`);
        const r = JSON.parse(readFileSync(out, 'utf8'));
        resolve({ ...r, cpuMs: r.userMs + r.sysMs, stdout, stderr });
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
