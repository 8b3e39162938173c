/**
 * `npm run chaos -- --seed N | --seeds COUNT [--from N] [options]`: the randomized multi-process
 * fault suite. Exit code 1 on any violation, 2 on bad usage.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { killAll, REPO_ROOT } from './processes.js';
import { formatSeed, formatSuite, runSuite } from './suite.js';

const HELP = `Usage: npm run chaos -- --seed N | --seeds COUNT [--from N] [options]
  --seed <n>                 run (or replay) one seed
  --seeds <count>            run COUNT seeds, from --from (default 1)
  --repeat <k>               run each seed k times (a replay repeats the plan, not the timing)
  --processes <n>            runner processes sharing one table   (default 3)
  --duration-ms <n>          workload and fault phase per seed    (default 4000)
  --ops-per-second <n>       operations started per second         (default 6)
  --parallel <n>             seeds at once, each with its own runners and endpoint (default 1)
  --quiesce-timeout-ms <n>   bound on reaching quiescence once faults stop (default 30000)
  --dynamo-endpoint <url>    use this DynamoDB instead of starting DynamoDB Local
  --logs <dir>               where a failing seed's logs go         (default .restless/chaos)
  --keep-logs                keep logs of passing seeds too
  --no-bundle                run bin/local.ts through tsx instead of an esbuild bundle of it
Each seed: a fresh table, N runners (bin/local.ts) with DynamoDB and timer faults, a workload
endpoint that crashes and hangs, runner processes killed and frozen; then faults stop and the
invariants are checked at quiescence (see test/chaos/invariants.ts).`;

function int(raw: string | undefined, name: string, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${name} must be a whole number ≥ ${min}, got '${raw}'\n\n${HELP}`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    from: { type: 'string' },
    repeat: { type: 'string' },
    processes: { type: 'string' },
    'duration-ms': { type: 'string' },
    'ops-per-second': { type: 'string' },
    'quiesce-timeout-ms': { type: 'string' },
    parallel: { type: 'string' },
    'dynamo-endpoint': { type: 'string' },
    logs: { type: 'string' },
    'keep-logs': { type: 'boolean' },
    'no-bundle': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help || (values.seed === undefined) === (values.seeds === undefined)) {
  console.log(HELP);
  process.exit(values.help ? 0 : 2);
}

const distinct =
  values.seed !== undefined
    ? [int(values.seed, '--seed', 0)]
    : Array.from({ length: int(values.seeds, '--seeds', 1, 1) }, (_, i) => int(values.from, '--from', 1) + i);
const seeds = distinct.flatMap((seed) => Array.from({ length: int(values.repeat, '--repeat', 1, 1) }, () => seed));

// Ctrl-C: every runner, the endpoint and DynamoDB Local go with us.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

const started = Date.now();
const report = await runSuite({
  seeds,
  processes: int(values.processes, '--processes', 3, 1),
  durationMs: int(values['duration-ms'], '--duration-ms', 4000, 500),
  opsPerSecond: int(values['ops-per-second'], '--ops-per-second', 6, 1),
  parallel: int(values.parallel, '--parallel', 1, 1),
  quiesceTimeoutMs: int(values['quiesce-timeout-ms'], '--quiesce-timeout-ms', 30_000, 1000),
  dynamoEndpoint: values['dynamo-endpoint'],
  logsDir: resolve(REPO_ROOT, values.logs ?? '.restless/chaos'),
  keepLogs: values['keep-logs'],
  noBundle: values['no-bundle'],
  progress: (line) => console.log(line),
  onSeed: (r) => console.log(formatSeed(r)),
});
console.log(`\n${formatSuite(report)}\n  wall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(report.violations > 0 ? 1 : 0);
