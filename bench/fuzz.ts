/**
 * `npm run fuzz -- --runs N --seed S`: generated hostile requests (bench/fuzz/cases.ts) against a
 * fresh local runner (bin/local.ts, its own DynamoDB Local and example endpoint), then the
 * invariants of bench/fuzz/run.ts. Prints cases run, seed, the status histograms, every
 * violation with its case index (replay: same seed, `--only <index>`), and the runner's RSS
 * before and after. Exits 1 on any violation.
 *
 * Options: --runs N (1000)  --seed S (random, printed)  --concurrency C (8)  --timeout-ms T (20000)
 *          --only I (run case I of the seed alone)
 */
import { parseArgs } from 'node:util';
import { freePorts, startRunner, tempDataDir } from '../test/support/runner.js';
import { sampleCases } from './fuzz/cases.js';
import { alive, describeRequest, judge, normalCallAnswers, runFuzz, runnerRssKb, type FuzzReport } from './fuzz/run.js';
import { Sender } from './fuzz/send.js';

const { values } = parseArgs({
  options: { runs: { type: 'string' }, seed: { type: 'string' }, concurrency: { type: 'string' }, 'timeout-ms': { type: 'string' }, only: { type: 'string' } },
});
const runs = Number(values.runs ?? 1000);
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
const concurrency = Number(values.concurrency ?? 8);
const timeoutMs = Number(values['timeout-ms'] ?? 20_000);
for (const [name, n] of Object.entries({ runs, seed, concurrency, timeoutMs })) {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
}

const dataDir = await tempDataDir();
// A short ingress deadline: a call that cannot finish answers 408 in 5 s, not 28 s.
const runner = await startRunner({ ports: await freePorts(), dataDir: dataDir.path, env: { RESTLESS_INGRESS_DEADLINE_MS: '5000' } });
const ports = { ingress: runner.ports.ingress, admin: runner.ports.admin };
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (kb: number | undefined) => (kb === undefined ? '?' : `${(kb / 1024).toFixed(0)} MB`);

try {
  if (values.only !== undefined) {
    const index = Number(values.only);
    const req = sampleCases(seed, index + 1)[index]!;
    const sender = new Sender(ports, timeoutMs);
    const out = await sender.send(req);
    sender.close();
    console.log(`case ${index} of seed ${seed}\n  request  ${describeRequest(req)}\n  outcome  ${JSON.stringify(out)}\n  verdict  ${judge(req, out) ?? 'ok'}`);
  } else {
    for (let i = 0; i < 20; i++) await normalCallAnswers(runner.ingressUrl);
    await settle(1000);
    const rssBefore = runnerRssKb(runner.pid);
    console.log(`fuzzing ${runs} cases, seed ${seed}, concurrency ${concurrency}; runner RSS ${mb(rssBefore)} after warm-up`);
    const report = await runFuzz(ports, {
      seed,
      runs,
      concurrency,
      timeoutMs,
      onProgress: (done) => console.log(`  ${done} cases, runner RSS ${mb(runnerRssKb(runner.pid))}`),
      every: 1000,
    });
    await settle(5000);
    const healthy = await normalCallAnswers(runner.ingressUrl);
    const rssAfter = runnerRssKb(runner.pid);
    print(report, { rssBefore, rssAfter, healthy, alive: alive(runner.pid) });
    if (report.violations.length > 0 || !healthy) process.exitCode = 1;
  }
} finally {
  const errors = runner
    .output()
    .split('\n')
    .filter((l) => l.includes('"level":"error"'));
  if (errors.length > 0) console.log(`\nrunner error log lines (${errors.length}, first 20):\n${errors.slice(0, 20).join('\n')}`);
  await runner.stop({ group: true }).catch(() => runner.kill());
  await dataDir.remove();
}

function print(r: FuzzReport, extra: { rssBefore?: number; rssAfter?: number; healthy: boolean; alive: boolean }): void {
  const sorted = (h: Record<string, number>) =>
    Object.entries(h)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
  const fivexx = Object.entries(r.statuses)
    .filter(([s]) => Number(s) >= 500)
    .reduce((n, [, v]) => n + v, 0);
  console.log(`
cases run        ${r.runs} (seed ${r.seed}) in ${(r.durationMs / 1000).toFixed(1)} s; ${r.clientRefused} not sent (Node refused the header or path)
families         ${sorted(r.families)}
HTTP statuses    ${sorted(r.statuses)}   (0: no status, e.g. a raw client the server still waits for)
gRPC statuses    ${sorted(r.grpcStatuses)}
5xx seen         ${fivexx} (501 unimplemented allowed: ${r.statuses['501'] ?? 0})
violations       ${r.violations.length}
slowest answer   ${r.slowestMs} ms
runner RSS       before ${mb(extra.rssBefore)}, after ${mb(extra.rssAfter)}
afterwards       process ${extra.alive ? 'alive' : 'GONE'}, normal call ${extra.healthy ? 'answers' : 'FAILS'}`);
  for (const v of r.violations.slice(0, 50)) console.log(`\n  #${v.index} ${v.rule}\n    request  ${v.request}\n    outcome  ${JSON.stringify(v.outcome)}`);
}
