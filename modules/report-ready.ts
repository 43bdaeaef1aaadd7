// report-ready: tell OpenNebula's OneGate that the VM is up (REPORT_READY=YES),
// so OneFlow can go on deploying the roles that wait for it. An optional
// READY_SCRIPT / READY_SCRIPT_PATH health check must exit 0 first. The report
// is `PUT $ONEGATE_ENDPOINT/vm` with the form body READY=YES, authenticated by
// the token from token.txt on the context CD (or ONEGATE_TOKEN) and the VM id.
//
// Frequency 'always': one-context reports on every boot (its net-99 script runs
// at each boot and reconfiguration), and OneGate treats a repeated READY=YES as
// a no-op, so a VM whose READY flag was reset (recreated, resumed from an
// undeploy) is reported again. Offline (--root, --dry-run) it is skipped: only
// the booted VM may claim to be ready, and a skip leaves no marker.
import { ConfigError, ModuleError, describeError } from '../src/errors';
import { startBudget } from '../src/http/budget';
import { fetchWithRetry, sleep, type RetryPolicy } from '../src/http/retry';
import { scriptEnvironment } from '../src/scripts/run-script';
import type { HttpResponse } from '../src/host/host';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

/** The health check run before reporting: inline text from the context, or a file in the guest. */
export type ReadyScript =
  | { readonly kind: 'inline'; readonly content: string; readonly origin: string }
  | { readonly kind: 'path'; readonly path: string; readonly origin: string };

export interface ReportReadyPlan {
  /** ONEGATE_ENDPOINT without a trailing slash. */
  readonly endpoint: string;
  readonly vmid: string;
  /** ONEGATE_TOKEN, used only when token.txt is not on the context medium. */
  readonly contextToken?: string;
  readonly script?: ReadyScript;
  /** Environment of the health check (the context variables, as one-context exports them). */
  readonly env: ReadonlyMap<string, string>;
  /** Hard limit for the whole HTTP exchange, retries included. */
  readonly budgetMs: number;
  readonly policy: RetryPolicy;
  /** Runs of the health check before giving up, and the pause between them (one-context: 3 runs, 10 s). */
  readonly scriptAttempts: number;
  readonly scriptRetryDelayMs: number;
}

export const REPORT_BUDGET_MS = 60_000;
/** A health check that hangs must not hold the final stage for ever. */
export const READY_SCRIPT_TIMEOUT_MS = 10 * 60 * 1000;
const TOKEN_FILE = '/token.txt';
const MAX_TOKEN_BYTES = 4096;

/**
 * Retries for OneGate: it often answers 500 or refuses connections for a few
 * seconds after the front-end restarts, so back off from 0.5 s up to 8 s.
 */
export const REPORT_POLICY: RetryPolicy = { attempts: 8, baseDelayMs: 500, maxDelayMs: 8000, requestTimeoutMs: 10_000, minAttemptMs: 100 };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * READY_SCRIPT may be plain shell or base64 of it, with no flag saying which.
 * one-context decodes anything that looks like base64, which turns short
 * commands such as "true" or "date" into garbage; here the decoded bytes must
 * also be valid UTF-8 text without control characters, which those are not.
 */
export function decodeReadyScript(value: string): { readonly text: string; readonly base64: boolean } {
  const compact = value.replace(/\s+/g, '');
  if (compact.length >= 4 && BASE64.test(compact)) {
    const bytes = Buffer.from(compact, 'base64');
    const text = bytes.toString('utf8');
    // A lossless round trip means the bytes were valid UTF-8.
    if (Buffer.from(text, 'utf8').equals(bytes) && !CONTROL.test(text)) return { text, base64: true };
  }
  return { text: value, base64: false };
}

function isYes(v: string | undefined): boolean {
  return v !== undefined && v.trim().toUpperCase() === 'YES';
}

/** The plan from the OpenNebula context; undefined unless REPORT_READY=YES. */
export function planReportReady(vars: ReadonlyMap<string, string>, env: ReadonlyMap<string, string>): ReportReadyPlan | undefined {
  if (!isYes(vars.get('REPORT_READY'))) return undefined;
  const endpoint = vars.get('ONEGATE_ENDPOINT')?.trim() ?? '';
  if (endpoint === '') throw new ConfigError('ONEGATE_ENDPOINT', 'is not set, but REPORT_READY=YES needs the OneGate URL (add TOKEN=YES to the VM template, and check that OneGate is configured)');
  if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) throw new ConfigError('ONEGATE_ENDPOINT', `"${endpoint}" is not an http:// or https:// URL`);
  const vmid = vars.get('VMID')?.trim() ?? '';
  if (vmid === '') throw new ConfigError('VMID', 'is not set, but REPORT_READY=YES needs the VM id for the X-ONEGATE-VMID header');
  if (!/^\d+$/.test(vmid)) throw new ConfigError('VMID', `"${vmid}" is not a number`);
  const contextToken = vars.get('ONEGATE_TOKEN')?.trim();

  let script: ReadyScript | undefined;
  // one-context: READY_SCRIPT_PATH wins over READY_SCRIPT.
  const scriptPath = vars.get('READY_SCRIPT_PATH')?.trim() ?? '';
  const inline = vars.get('READY_SCRIPT') ?? '';
  if (scriptPath !== '') {
    if (!scriptPath.startsWith('/')) throw new ConfigError('READY_SCRIPT_PATH', `"${scriptPath}" is not an absolute path in the guest`);
    script = { kind: 'path', path: scriptPath, origin: `context.sh READY_SCRIPT_PATH ${scriptPath}` };
  } else if (inline.trim() !== '') {
    const decoded = decodeReadyScript(inline);
    script = { kind: 'inline', content: decoded.text, origin: `context.sh READY_SCRIPT${decoded.base64 ? ' (base64)' : ''}` };
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ''),
    vmid,
    ...(contextToken ? { contextToken } : {}),
    ...(script ? { script } : {}),
    env,
    budgetMs: REPORT_BUDGET_MS,
    policy: REPORT_POLICY,
    scriptAttempts: 3,
    scriptRetryDelayMs: 10_000,
  };
}

/** The OneGate token: token.txt on the context medium first (what OpenNebula writes), then ONEGATE_TOKEN. */
async function findToken(ctx: ModuleContext, plan: ReportReadyPlan): Promise<{ token: string; source: string }> {
  const medium = ctx.instance.medium;
  if (medium !== undefined) {
    try {
      const entry = await medium.stat(TOKEN_FILE);
      if (entry?.type === 'file') {
        const token = (await medium.readFile(TOKEN_FILE, MAX_TOKEN_BYTES)).toString('utf8').trim();
        if (token !== '') return { token, source: 'token.txt' };
        ctx.log.warn('token.txt on the context medium is empty');
      }
    } catch (err) {
      // A damaged medium must not hide a usable ONEGATE_TOKEN: say so and fall back.
      ctx.log.warn(`cannot read token.txt from the context medium: ${describeError(err)}`);
    }
  }
  if (plan.contextToken !== undefined && plan.contextToken !== '') return { token: plan.contextToken, source: 'ONEGATE_TOKEN' };
  throw new ConfigError('ONEGATE_TOKEN', 'REPORT_READY=YES needs a OneGate token, but token.txt is not on the context medium and ONEGATE_TOKEN is not set (add TOKEN=YES to the VM template)');
}

/** Run the health check once; its exit status (or a signal) decides. */
async function runReadyScript(ctx: ModuleContext, script: ReadyScript, env: Record<string, string>): Promise<{ code: number; signal?: string }> {
  const { host, log } = ctx;
  let path: string;
  let direct: boolean;
  if (script.kind === 'path') {
    const info = await host.stat(script.path);
    if (info === undefined || info.type === 'dir') throw new ConfigError('READY_SCRIPT_PATH', `${script.path} does not exist in the guest; READY was not reported`);
    path = script.path;
    direct = (info.mode & 0o111) !== 0;
  } else {
    // Stored 0700 under the state directory, like the user's other scripts, so
    // it never sits world-readable and never appears on a command line.
    const dir = `${ctx.stateDir}/instance/scripts`;
    path = `${dir}/ready-script`;
    await host.mkdir(dir, { mode: 0o700, owner: 'root' });
    await host.writeFile(path, script.content, { mode: 0o700, secret: true });
    direct = script.content.startsWith('#!');
  }
  let cmd = path;
  let args: string[] = [];
  if (!direct) {
    // one-context evaluates READY_SCRIPT in bash; plain sh when the guest has no bash.
    const shell = (await host.which('bash')) ?? (await host.which('sh'));
    if (shell === undefined) throw new ConfigError(script.origin, 'neither bash nor sh is installed in the guest to run the health check');
    cmd = shell;
    args = [path];
  }
  const res = await host.run(cmd, args, { env, cwd: '/', timeoutMs: READY_SCRIPT_TIMEOUT_MS });
  for (const line of `${res.stdout}${res.stderr}`.split('\n')) if (line.trim() !== '') log.info(`ready script: ${line}`);
  return { code: res.code, ...(res.signal !== undefined ? { signal: res.signal } : {}) };
}

/** Keep a server's answer short, and the token out of it. */
function excerpt(body: Buffer, token: string): string {
  const text = body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
  return token.length > 0 ? text.split(token).join('[REDACTED]') : text;
}

export const reportReady: Module<ReportReadyPlan> = {
  name: 'report-ready',
  stage: 'final',
  frequency: 'always',
  description: 'report READY=YES to OpenNebula OneGate (REPORT_READY), after READY_SCRIPT succeeds',
  parse(cfg) {
    return cfg.context ? planReportReady(cfg.context, cfg.scriptEnv) : undefined;
  },
  async run(ctx: ModuleContext, plan: ReportReadyPlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    if (!host.live) return { skipped: 'needs the running guest (only the booted VM may report itself ready)' };
    const { token, source } = await findToken(ctx, plan);
    // Registered before anything runs, so neither our lines nor the script's output can show it.
    log.addSecret(token);
    if (CONTROL.test(token) || /[\r\n\t]/.test(token)) throw new ConfigError(source, 'the OneGate token contains control characters and cannot be sent in a header');

    let scriptRuns = 0;
    if (plan.script !== undefined) {
      const env = scriptEnvironment(ctx, plan.env);
      const attempts = Math.max(1, plan.scriptAttempts);
      let last = '';
      for (;;) {
        scriptRuns++;
        log.event('task-start', `running ${plan.script.origin} (attempt ${scriptRuns} of ${attempts})`);
        const r = await runReadyScript(ctx, plan.script, env);
        if (r.signal === undefined && r.code === 0) break;
        last = r.signal !== undefined ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
        if (scriptRuns >= attempts) {
          throw new ModuleError(plan.script.origin, `${last} (${scriptRuns} run${scriptRuns === 1 ? '' : 's'}); READY was not reported`, { details: { readyScript: plan.script.origin, scriptRuns } });
        }
        log.warn(`${plan.script.origin} ${last}; trying again in ${Math.round(plan.scriptRetryDelayMs / 1000)} s`);
        await sleep(plan.scriptRetryDelayMs);
      }
    }

    const url = `${plan.endpoint}/vm`;
    let res: HttpResponse;
    try {
      res = await fetchWithRetry(
        host,
        url,
        {
          method: 'PUT',
          headers: { 'X-ONEGATE-TOKEN': token, 'X-ONEGATE-VMID': plan.vmid, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'READY=YES',
          maxBytes: 64 * 1024,
        },
        { budget: startBudget(host, plan.budgetMs), policy: plan.policy, log },
      );
    } catch (err) {
      throw new ModuleError(url, `READY was not reported: ${describeError(err)}`, { cause: err });
    }
    if (res.status < 200 || res.status >= 300) {
      const hint = res.status === 401 || res.status === 403 ? ` (OneGate refused the token from ${source} for VM ${plan.vmid})` : '';
      const said = excerpt(res.body, token);
      throw new ModuleError(url, `OneGate answered HTTP ${res.status}${hint}${said !== '' ? `: ${said}` : ''}; READY was not reported`);
    }
    log.info(`reported READY=YES to ${url} for VM ${plan.vmid}`);
    return {
      details: {
        endpoint: plan.endpoint,
        vmid: plan.vmid,
        tokenSource: source,
        status: res.status,
        ...(plan.script !== undefined ? { readyScript: plan.script.origin, scriptRuns } : {}),
      },
    };
  },
};
