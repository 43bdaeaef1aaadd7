// The datasource tests' shared harness: a Session on a fake machine (a temp
// guest root), its DatasourceContext, detect-then-read, and cleanup of every
// session and root a test made.
import { afterEach, expect } from 'vitest';
import { memoryLogger } from '../../src/log/logger';
import { Session } from '../../src/pipeline';
import type { Datasource, DatasourceContext, InstanceData } from '../../src/types';
import { hostOn, type TempRoot } from './temp-root';

export interface ContextOptions {
  readonly seed?: string;
  readonly networkBudgetMs?: number;
}

export interface DatasourceHarness {
  /** Remember a temp root so it is removed after the test. */
  track(root: TempRoot): TempRoot;
  contextOf(root: TempRoot, opts?: ContextOptions): Promise<DatasourceContext>;
  /** Detect (which must find it) and read. */
  detectAndRead(ds: Datasource, root: TempRoot, opts?: ContextOptions): Promise<InstanceData>;
}

/** Call at the top of a test file: registers the afterEach cleanup. */
export function datasourceHarness(): DatasourceHarness {
  const roots: TempRoot[] = [];
  const sessions: Session[] = [];
  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.close();
    for (const r of roots.splice(0)) r.cleanup();
  });
  const contextOf = async (root: TempRoot, opts: ContextOptions = {}): Promise<DatasourceContext> => {
    const session = new Session({ host: hostOn(root), log: memoryLogger(), stages: ['local'], ...opts });
    sessions.push(session);
    await session.init();
    return session.dsContext();
  };
  return {
    track(root) {
      roots.push(root);
      return root;
    },
    contextOf,
    async detectAndRead(ds, root, opts = {}) {
      const ctx = await contextOf(root, opts);
      const d = await ds.detect(ctx);
      expect(d.found, d.evidence).toBe(true);
      return ds.read(ctx, d);
    },
  };
}
