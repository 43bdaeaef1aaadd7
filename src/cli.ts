// The guestctx command line (yargs). This is the only place that calls
// process.exit: 0 all done, 1 a module failed, 2 usage or a required datasource
// missing. Errors are one line naming what failed and why; stacks only with -v.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MODULES } from '../modules';
import { runEpilogStop } from '../modules/hepix';
import { previewNetwork } from '../modules/network';
import { buildGuestConfig } from './config/build';
import { formatIssue, validateCloudConfigText } from './config/cloud-config';
import type { GuestConfig, NetworkRendererName } from './config/guest-config';
import { GuestctxError, UsageError, describeError } from './errors';
import { NodeHost } from './host/node-host';
import { createLogger, pinoFileSink, type LogSinks, type Logger } from './log/logger';
import { Session, runPipeline, type PipelineResult } from './pipeline';
import { renderDryRun } from './report/dry-run';
import { redactInstance } from './report/redact';
import { formatStatus, waitForFinal } from './report/status';
import { STATE_DIR, State } from './state/state';
import { STAGES, type InstanceData, type Stage } from './types';
import { loadUserData, type LoadedUserData } from './userdata/load';
import { VERSION } from './version';
import { startupMark, startupTrace } from './log/startup-trace';

export { VERSION };

const NETWORK_RENDERERS: NetworkRendererName[] = ['netplan', 'networkd', 'ifupdown', 'nm', 'ifcfg'];

export interface GlobalArgs {
  root: string;
  seed?: string;
  datasource?: string;
  'metadata-url'?: string;
  'dry-run': boolean;
  only?: string[];
  skip?: string[];
  events?: string;
  verbose: boolean;
  'network-renderer'?: NetworkRendererName;
}

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

function listArg(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const arr = Array.isArray(v) ? v : [v];
  return arr.flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean);
}

async function makeLogger(args: GlobalArgs, io: CliIO, fileLog: string | undefined): Promise<{ log: Logger; flush(): void }> {
  const sinks: LogSinks = {
    verbose: args.verbose,
    console: (line) => io.stderr(`${line}\n`),
    ...(args.events === 'json' ? { events: (line: string) => io.stdout(`${line}\n`) } : {}),
  };
  if (fileLog !== undefined) sinks.file = await pinoFileSink(fileLog);
  return { log: createLogger(sinks), flush: () => sinks.file?.flush() };
}

function hostFor(args: GlobalArgs): NodeHost {
  return new NodeHost({ root: path.resolve(args.root), dryRun: args['dry-run'] });
}

function pipelineBase(args: GlobalArgs, host: NodeHost, log: Logger) {
  return {
    host,
    log,
    ...(args.seed !== undefined ? { seed: path.resolve(args.seed) } : {}),
    ...(args.datasource !== undefined ? { datasource: args.datasource } : {}),
    ...(args['metadata-url'] !== undefined ? { metadataUrl: args['metadata-url'] } : {}),
    ...(args.only ? { only: args.only } : {}),
    ...(args.skip ? { skip: args.skip } : {}),
    ...(args['network-renderer'] ? { networkRenderer: args['network-renderer'] } : {}),
  };
}

/** Read the datasource and decode everything, changing nothing: for query and render-network. */
/** Detect and read the datasource without changing anything (query, detect-like commands). */
async function readOnlyInstance(args: GlobalArgs, io: CliIO): Promise<{ session: Session; instance: InstanceData; host: NodeHost }> {
  const host = new NodeHost({ root: path.resolve(args.root), dryRun: true });
  const { log } = await makeLogger(args, io, undefined);
  const session = new Session({ ...pipelineBase(args, host, log), stages: [...STAGES] });
  try {
    await session.init();
    const found = await session.findInstance('final');
    if (!found.instance) throw new UsageError('datasource', found.errors.length ? found.errors.map(describeError).join('; ') : 'no datasource found');
    return { session, instance: found.instance, host };
  } catch (err) {
    await session.close();
    throw err;
  }
}

/** ...and decode everything into the configuration the modules would see. */
async function readOnlyConfig(args: GlobalArgs, io: CliIO): Promise<{ session: Session; instance: InstanceData; userData: LoadedUserData; cfg: GuestConfig; host: NodeHost }> {
  const { session, instance, host } = await readOnlyInstance(args, io);
  const userData = await loadUserData(host, instance, STATE_DIR);
  const renderer = args['network-renderer'] ?? session.agent.networkRenderer;
  const cfg = buildGuestConfig(instance, { defaultUser: session.agent.defaultUser, ...(renderer ? { networkRenderer: renderer } : {}) }, userData);
  return { session, instance, userData, cfg, host };
}

const SECRET_CLOUD_KEYS = /^(password|passwd|hashed_passwd|plain_text_passwd|chpasswd|ssh_keys|content|source)$/;

/** Mask secret values inside a cloud-config tree (passwords, private keys, file contents). */
function redactTree(v: unknown, show: boolean): unknown {
  if (show) return v;
  if (Array.isArray(v)) return v.map((x) => redactTree(x, show));
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_CLOUD_KEYS.test(k) ? '[REDACTED]' : redactTree(x, show)]));
  }
  return v;
}

function summarise(result: PipelineResult, io: CliIO): void {
  for (const o of result.outcomes) {
    const mods = Object.entries(o.status.modules);
    const failed = mods.filter(([, m]) => m.result === 'failed').map(([n]) => n);
    const ok = mods.filter(([, m]) => m.result === 'ok').map(([n]) => n);
    io.stderr(`guestctx: stage ${o.stage}: ${o.status.result}${ok.length ? `; ran ${ok.join(', ')}` : ''}${failed.length ? `; FAILED ${failed.join(', ')}` : ''} (${o.status.durationMs ?? 0} ms)\n`);
  }
}

/** Modules whose input can change while the guest runs (new context CD, hot-plugged NIC). */
const RECONFIGURE_MODULES = ['network', 'hostname', 'ssh-authorized-keys'];

async function cmdRun(args: GlobalArgs & { stage: string; all: boolean; reconfigure: boolean }, io: CliIO): Promise<number> {
  startupMark('arguments-parsed');
  const host = hostFor(args);
  const stages: Stage[] = args.reconfigure ? ['local', 'network'] : args.all || args.stage === 'all' ? [...STAGES] : [args.stage as Stage];
  const logFile = args['dry-run'] ? undefined : path.join(host.root, 'var/log/guestctx.log');
  const { log, flush } = await makeLogger(args, io, logFile);
  startupMark('log-open');
  try {
    const base = pipelineBase(args, host, log);
    const result = await runPipeline({ ...base, stages, ...(args.reconfigure ? { reconfigure: true, only: args.only ?? RECONFIGURE_MODULES } : {}) });
    if (args['dry-run']) io.stdout(renderDryRun(host.changes()));
    summarise(result, io);
    return result.exitCode;
  } finally {
    flush();
  }
}

async function cmdDetect(args: GlobalArgs & { json: boolean }, io: CliIO): Promise<number> {
  const host = new NodeHost({ root: path.resolve(args.root), dryRun: true });
  const { log } = await makeLogger({ ...args, verbose: args.verbose }, io, undefined);
  const session = new Session({ ...pipelineBase(args, host, log), stages: [...STAGES] });
  try {
    await session.init();
    const reports = await session.detect('final');
    const chosen = reports.find((r) => r.detection.found);
    if (args.json) {
      io.stdout(`${JSON.stringify({ chosen: chosen?.datasource ?? null, datasources: reports }, null, 2)}\n`);
    } else {
      for (const r of reports) io.stdout(`${r.detection.found ? 'found    ' : 'no       '} ${r.datasource.padEnd(12)} [${r.stage}] ${r.detection.evidence}\n`);
      io.stdout(chosen ? `would use: ${chosen.datasource}\n` : 'would use: none (no datasource matched)\n');
    }
    return chosen ? 0 : 2;
  } finally {
    await session.close();
  }
}

async function cmdQueryDecoded(args: GlobalArgs & { key: string; 'show-secrets': boolean }, io: CliIO): Promise<number> {
  const { session, userData, cfg, host } = await readOnlyConfig(args, io);
  try {
    if (args.key === 'userdata') {
      const doc = {
        parts: userData.parts.map((p) => ({ kind: p.kind, contentType: p.contentType, filename: p.filename, size: p.content.length, origin: p.origin, ...(p.frequency ? { frequency: p.frequency } : {}) })),
        cloudConfig: redactTree(userData.merged, args['show-secrets']),
        errors: userData.errors,
        warnings: userData.warnings,
        vendorDataEnabled: userData.vendorEnabled,
      };
      io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
      return userData.errors.length > 0 ? 1 : 0;
    }
    if (!cfg.network) {
      io.stdout('null\n');
      return 0;
    }
    const preview = await previewNetwork(host, cfg.network);
    io.stdout(`${JSON.stringify({ input: { kind: cfg.network.input.kind, origin: cfg.network.input.origin }, renderer: preview.renderer, nics: preview.nics, network: preview.network }, null, 2)}\n`);
    return 0;
  } finally {
    await session.close();
  }
}

async function cmdRenderNetwork(args: GlobalArgs & { renderer?: NetworkRendererName }, io: CliIO): Promise<number> {
  const withRenderer = { ...args, ...(args.renderer ? { 'network-renderer': args.renderer } : {}) };
  const { session, cfg, host } = await readOnlyConfig(withRenderer, io);
  try {
    if (!cfg.network) {
      io.stdout('# network configuration is disabled (network: {config: disabled})\n');
      return 0;
    }
    const preview = await previewNetwork(host, cfg.network);
    for (const f of preview.files) io.stdout(`### ${f.path} (mode ${f.mode.toString(8).padStart(4, '0')}, ${preview.renderer})\n${f.content}\n`);
    return 0;
  } finally {
    await session.close();
  }
}

async function cmdSchema(args: GlobalArgs & { file: string }, io: CliIO): Promise<number> {
  const file = path.resolve(args.file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(args.file, 'cannot read the file', { cause: err });
  }
  const result = validateCloudConfigText(text, args.file);
  for (const e of result.errors) io.stdout(`error: ${formatIssue(e)}\n`);
  for (const w of result.warnings) io.stdout(`warning: ${formatIssue(w)}\n`);
  io.stdout(result.errors.length === 0 ? `${args.file}: valid cloud-config${result.warnings.length ? ` (${result.warnings.length} warning(s))` : ''}\n` : `${args.file}: ${result.errors.length} error(s)\n`);
  return result.errors.length === 0 ? 0 : 1;
}

async function cmdQuery(args: GlobalArgs & { key?: string; 'show-secrets': boolean }, io: CliIO): Promise<number> {
  if (args.key === 'network' || args.key === 'userdata') return cmdQueryDecoded({ ...args, key: args.key }, io);
  const { session, instance } = await readOnlyInstance(args, io);
  try {
    const doc = redactInstance(instance, args['show-secrets']);
    let value: unknown = doc;
    if (args.key !== undefined) {
      const key = args.key;
      const raw = doc.raw as Record<string, unknown>;
      const top = Object.keys(doc).find((k) => k.toLowerCase() === key.toLowerCase());
      value = top !== undefined ? doc[top] : raw[key];
      if (value === undefined) throw new UsageError(key, 'no such key in the instance data');
    }
    io.stdout(typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`);
    return 0;
  } finally {
    await session.close();
  }
}

async function cmdStatus(args: GlobalArgs & { json: boolean; wait: boolean; timeout: number }, io: CliIO): Promise<number> {
  const host = new NodeHost({ root: path.resolve(args.root), dryRun: true });
  const state = new State(host, STATE_DIR);
  const status = args.wait ? await waitForFinal(host, state, args.timeout * 1000) : await state.readStatus();
  io.stdout(args.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  const failed = Object.values(status.stages).some((s) => s?.result === 'failed');
  return failed ? 1 : 0;
}

async function cmdClean(args: GlobalArgs & { logs: boolean; 'clean-seed': boolean }, io: CliIO): Promise<number> {
  const host = hostFor(args);
  const state = new State(host, STATE_DIR);
  const removed = await state.clean({ logs: args.logs });
  // `clean --seed` (as documented) arrives as the global --seed option without a path.
  if (args['clean-seed'] || args.seed === '') {
    await host.remove(`${STATE_DIR}/seed`);
    removed.push(`${STATE_DIR}/seed`);
  }
  io.stdout(removed.length ? `${removed.map((r) => `removed ${r}`).join('\n')}\n` : 'nothing to clean\n');
  if (args['dry-run']) io.stdout(renderDryRun(host.changes()));
  return 0;
}

async function cmdEpilogStop(args: GlobalArgs, io: CliIO): Promise<number> {
  const host = hostFor(args);
  const { log, flush } = await makeLogger(args, io, args['dry-run'] ? undefined : path.join(host.root, 'var/log/guestctx.log'));
  try {
    const r = await runEpilogStop({ host, log, stateDir: STATE_DIR });
    if (!r.ran) io.stderr(`guestctx: epilog.sh stop not run: ${r.reason}\n`);
    return 0;
  } finally {
    flush();
  }
}

function cmdModules(io: CliIO): number {
  for (const m of MODULES) io.stdout(`${m.name.padEnd(22)} ${m.stage.padEnd(8)} ${m.frequency.padEnd(13)} ${m.description}\n`);
  return 0;
}

/** Parse and run; returns the exit code (main() exits with it). */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  let code = 0;
  let verbose = argv.includes('-v') || argv.includes('--verbose');
  const parser = yargs([...argv])
    .scriptName('guestctx')
    .version(VERSION)
    .strict()
    .wrap(100)
    .option('root', { type: 'string', default: '/', describe: 'configure this directory (a mounted image, a test tree) instead of /' })
    .option('seed', { type: 'string', describe: 'read the datasource from this folder or image file instead of detecting it' })
    .option('datasource', { type: 'string', describe: 'use this datasource, skip detection' })
    .option('metadata-url', { type: 'string', describe: 'base URL of the metadata service' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'change nothing; print the diff of every file and every command' })
    .option('only', { type: 'string', array: true, coerce: listArg, describe: 'run only these modules' })
    .option('skip', { type: 'string', array: true, coerce: listArg, describe: 'do not run these modules' })
    .option('events', { type: 'string', choices: ['json'], describe: 'print one JSON event per line on stdout' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'debug lines and stack traces' })
    .option('network-renderer', { type: 'string', choices: NETWORK_RENDERERS, describe: 'write network files for this stack instead of detecting it' })
    .command('run', 'contextualize: run a boot stage', (y) =>
      y
        .option('stage', { type: 'string', choices: [...STAGES, 'all'], default: 'all' })
        .option('all', { type: 'boolean', default: false, describe: 'all stages (as from rc.local)' })
        .option('reconfigure', { type: 'boolean', default: false, describe: 're-read the context and re-apply network, hostname and keys now' }),
      async (a) => {
        code = await cmdRun(a as never, io);
      })
    .command('detect', 'which datasource would be used, and why', (y) => y.option('json', { type: 'boolean', default: false }), async (a) => {
      code = await cmdDetect(a as never, io);
    })
    .command('query [key]', 'print the decoded instance data as JSON', (y) => y.positional('key', { type: 'string' }).option('show-secrets', { type: 'boolean', default: false }), async (a) => {
      code = await cmdQuery(a as never, io);
    })
    .command('status', 'what ran, when, how long, what failed', (y) =>
      y.option('json', { type: 'boolean', default: false }).option('wait', { type: 'boolean', default: false, describe: 'block until the final stage has finished' }).option('timeout', { type: 'number', default: 900, describe: 'seconds --wait waits at most' }),
      async (a) => {
        code = await cmdStatus(a as never, io);
      })
    .command('clean', 'forget the instance: the next boot is a first boot', (y) => y.option('logs', { type: 'boolean', default: false }).option('clean-seed', { type: 'boolean', default: false, describe: 'also remove the seed folder' }), async (a) => {
      code = await cmdClean(a as never, io);
    })
    .command('modules', 'list the modules with stage and frequency', () => undefined, () => {
      code = cmdModules(io);
    })
    .command('hepix-epilog-stop', 'run the HEPiX epilog.sh stop at shutdown (guestctx-shutdown.service)', () => undefined, async (a) => {
      code = await cmdEpilogStop(a as never, io);
    })
    .command('render-network', 'print the network files guestctx would write, without writing', (y) => y.option('renderer', { type: 'string', choices: NETWORK_RENDERERS }), async (a) => {
      code = await cmdRenderNetwork(a as never, io);
    })
    .command('schema <file>', 'validate a cloud-config file; errors with line numbers', (y) => y.positional('file', { type: 'string', demandOption: true }), async (a) => {
      code = await cmdSchema(a as never, io);
    })
    .demandCommand(1, 'give a command: run, detect, query, status, clean, modules, render-network, schema')
    .fail((msg, err) => {
      throw err ?? new UsageError('usage', msg);
    })
    .exitProcess(false);
  try {
    const parsed = await parser.parseAsync();
    verbose = Boolean(parsed.verbose);
    if (parsed.help || parsed.version) return 0;
    return code;
  } catch (err) {
    io.stderr(`guestctx: ${describeError(err)}\n`);
    if (verbose && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    if (err instanceof UsageError) return 2;
    if (err instanceof GuestctxError) return 1;
    return verbose ? 1 : 1;
  }
}

export async function main(): Promise<void> {
  // `guestctx modules | head` closes the pipe early: that is the reader's choice, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const code = await runCli(hideBin(process.argv));
  startupMark('exit');
  const trace = startupTrace();
  if (trace !== undefined) process.stderr.write(`guestctx: start-up: ${trace}\n`);
  process.exitCode = code;
  process.exit(code);
}
