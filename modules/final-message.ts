// final-message: the last line of every boot, as cloud-init's final_message:
// a template with $UPTIME, $TIMESTAMP, $DATASOURCE and $VERSION (also ${NAME}
// and lower-case names; {{ name }} after a "## template: jinja" first line),
// printed on the console, and the boot-finished marker
// (/var/lib/guestctx/instance/boot-finished) that tools wait for.
import type { Host } from '../src/host/host';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

// Set by the bundler (packaging/build.mjs); absent when running from source.
import { VERSION as GUESTCTX_VERSION } from '../src/version';

export { GUESTCTX_VERSION };

export const DEFAULT_FINAL_MESSAGE = 'guestctx v. $VERSION finished at $TIMESTAMP. Datasource $DATASOURCE. Up $UPTIME seconds';

export interface FinalMessagePlan {
  readonly template: string;
  /** "cloud-config final_message" or "default". */
  readonly origin: string;
}

export interface FinalMessageVars {
  readonly uptime: string;
  readonly timestamp: string;
  readonly datasource: string;
  readonly version: string;
}

const JINJA_HEADER = /^##\s*template:\s*jinja[^\n]*(?:\n|$)/i;

/**
 * Substitute the variables. Names match in lower or upper case only (as
 * cloud-init offers both); an unknown name is left as written, and "\$" is a
 * literal dollar. With the jinja header only {{ name }} forms are replaced,
 * because that is the only syntax such a template uses.
 */
export function renderFinalMessage(template: string, vars: FinalMessageVars): string {
  const table = new Map<string, string>();
  for (const [k, v] of Object.entries(vars) as [string, string][]) {
    table.set(k, v);
    table.set(k.toUpperCase(), v);
  }
  const header = JINJA_HEADER.exec(template);
  if (header) {
    return template.slice(header[0].length).replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (m, name: string) => table.get(name) ?? m);
  }
  // One pass, so a substituted value containing "$" is never expanded again.
  return template.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, braced: string | undefined, bare: string | undefined) => {
    if (m === '\\$') return '$';
    return table.get((braced ?? bare) as string) ?? m;
  });
}

/** RFC 2822 in UTC, the form cloud-init prints: "Fri, 14 Aug 2015 00:02:57 +0000". */
export function rfc2822(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** Seconds since boot from the guest's /proc/uptime ("unknown" offline, where there is none). */
export async function readUptime(host: Host): Promise<string> {
  const text = await host.readTextIfExists('/proc/uptime', 4096);
  const first = text?.trim().split(/\s+/)[0];
  return first !== undefined && /^\d+(?:\.\d+)?$/.test(first) ? first : 'unknown';
}

export const finalMessage: Module<FinalMessagePlan> = {
  name: 'final-message',
  stage: 'final',
  frequency: 'always',
  description: 'print the final message (final_message) and write the boot-finished marker',
  parse(cfg) {
    const custom = cfg.cloud.final_message;
    return custom !== undefined ? { template: custom, origin: 'cloud-config final_message' } : { template: DEFAULT_FINAL_MESSAGE, origin: 'default' };
  },
  async run(ctx: ModuleContext, plan: FinalMessagePlan): Promise<ModuleOutcome> {
    const { host, log, instance } = ctx;
    const vars: FinalMessageVars = {
      uptime: await readUptime(host),
      timestamp: rfc2822(new Date()),
      datasource: `${instance.datasource} [${instance.source}]`,
      version: GUESTCTX_VERSION,
    };
    const message = renderFinalMessage(plan.template, vars);
    for (const line of message.replace(/\n+$/, '').split('\n')) log.info(line);
    const marker = `${ctx.stateDir}/instance/boot-finished`;
    await host.writeFile(marker, `${vars.uptime} - ${vars.timestamp} - v. ${vars.version}\n`, { mode: 0o644 });
    return { details: { uptime: vars.uptime, bootFinished: marker, origin: plan.origin } };
  },
};
