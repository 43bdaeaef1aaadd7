// Which modules an image builder or a user switched off, and the image's own
// hooks around a module. Three switches, any of which disables a module:
//   /etc/guestctx/guestctx.yaml          modules: { disabled: [name, ...] }
//   kernel command line                  guestctx.disable=name,name
//   context variable (like snf-image's EXCLUDE_TASK_<Name>)   EXCLUDE_MODULE_<NAME>=YES
//     where NAME is the module name upper-cased with '-' as '_' (SSH_HOST_KEYS).
// Hooks: executables in /etc/guestctx/hooks/<module>/ named
//   pre       runs before the module; a non-zero exit fails the module
//   replace   runs instead of the module
//   post      runs after it, with GUESTCTX_RESULT=ok|failed
// each with the same clean environment as user scripts plus GUESTCTX_MODULE.
import type { Host } from './host/host';
import { GUEST_PATH } from './host/guest-path';

export const HOOKS_DIR = '/etc/guestctx/hooks';

function truthy(v: string | undefined): boolean {
  return v !== undefined && /^(yes|y|true|1|on)$/i.test(v.trim());
}

export function contextExcludeKey(module: string): string {
  return `EXCLUDE_MODULE_${module.toUpperCase().replace(/-/g, '_')}`;
}

/** Why a module is disabled, or undefined when it may run. */
export function disabledReason(module: string, sources: { config: readonly string[]; cmdline: string; context?: ReadonlyMap<string, string> }): string | undefined {
  if (sources.config.includes(module)) return 'disabled in /etc/guestctx/guestctx.yaml';
  for (const word of sources.cmdline.split(/\s+/)) {
    if (word.startsWith('guestctx.disable=') && word.slice('guestctx.disable='.length).split(',').includes(module)) return 'disabled by guestctx.disable= on the kernel command line';
  }
  const key = contextExcludeKey(module);
  if (truthy(sources.context?.get(key))) return `disabled by the context variable ${key}`;
  return undefined;
}

export type HookPhase = 'pre' | 'replace' | 'post';

export async function findHook(host: Host, module: string, phase: HookPhase): Promise<string | undefined> {
  const p = `${HOOKS_DIR}/${module}/${phase}`;
  const info = await host.stat(p);
  return info?.type === 'file' && (info.mode & 0o111) !== 0 ? p : undefined;
}

/** Run a hook with the scripts' clean environment; returns its exit code and output. */
export async function runHook(host: Host, hook: string, env: Readonly<Record<string, string>>, module: string, result?: string): Promise<{ code: number; output: string }> {
  const res = await host.run(hook, [], { env: { ...env, PATH: GUEST_PATH, GUESTCTX_MODULE: module, ...(result ? { GUESTCTX_RESULT: result } : {}) }, timeoutMs: 10 * 60 * 1000 });
  return { code: res.code, output: `${res.stdout}${res.stderr}`.trim() };
}
