// Entry point of the bundle and of the single executable.
//
// GUESTCTX_TRAIN_CODE_CACHE (build time only, see packaging/build.mjs): a JSON
// list of argument lists to run one after the other in this process, quietly,
// instead of one command. The build runs the bundle this way on a sample guest
// so that the functions a boot uses are compiled before V8's code cache is
// taken; a guest then starts without compiling them again.
import { main, runCli } from './cli';
import { startupMark } from './log/startup-trace';

async function train(spec: string): Promise<void> {
  const runs = JSON.parse(spec) as unknown;
  if (!Array.isArray(runs) || !runs.every((r) => Array.isArray(r) && r.every((a) => typeof a === 'string'))) {
    throw new TypeError('GUESTCTX_TRAIN_CODE_CACHE: expected a JSON list of argument lists');
  }
  const quiet = { stdout: (): void => undefined, stderr: (): void => undefined };
  for (const argv of runs as string[][]) await runCli(argv, quiet);
  process.exit(0);
}

startupMark('bundle-evaluated');
const training = process.env.GUESTCTX_TRAIN_CODE_CACHE;
void (training !== undefined ? train(training) : main());
