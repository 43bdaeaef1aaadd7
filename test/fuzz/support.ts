// Shared pieces of the fuzz targets: where the repository is (targets run from
// a temporary bundle, so __dirname is useless), reading existing fixtures as
// seeds, and the invariant error a target throws when a property is broken.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

declare const __FUZZ_REPO__: string | undefined;

/** The repository root: set by the runner's bundle, else the working directory. */
export const REPO = typeof __FUZZ_REPO__ === 'string' ? __FUZZ_REPO__ : process.cwd();

/** A broken invariant: a plain Error, so the runner reports it as a finding. */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

export function invariant(ok: boolean, message: string): void {
  if (!ok) throw new InvariantError(message);
}

/** Every file under `rel` (recursively) whose name passes `accept`. */
export function fixtureFiles(rel: string, accept: (name: string) => boolean = () => true): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (accept(name)) out.push(p);
    }
  };
  walk(path.join(REPO, rel));
  return out;
}

export function readAll(files: readonly string[]): Buffer[] {
  return files.map((f) => readFileSync(f));
}
