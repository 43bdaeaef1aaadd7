// Small process helpers for the VM harness: run a tool and fail with its
// output when it fails, and a timestamped log line on stderr.
import { execFileSync } from 'node:child_process';

const t0 = Date.now();

export function log(msg) {
  process.stderr.write(`[vm ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

/** Run a command synchronously; on failure throw with the tail of its output. */
export function run(cmd, args, { quiet = false, timeoutMs = 10 * 60_000, input, cwd, env } = {}) {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
      timeout: timeoutMs,
      ...(input !== undefined ? { input } : {}),
      ...(cwd ? { cwd } : {}),
      ...(env ? { env } : {}),
    });
  } catch (err) {
    const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.status ?? err.signal ?? err.code}):\n${out}`, { cause: err });
  } finally {
    if (!quiet) log(`ran ${cmd} ${args.slice(0, 4).join(' ')}${args.length > 4 ? ' ...' : ''}`);
  }
}

/** True when a command exists on PATH (or as given). */
export function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
