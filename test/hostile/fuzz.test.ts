/**
 * Hostile input, generated: a short seeded slice of bench/fuzz (paths, methods, headers, content
 * types, encodings, bodies, idempotency headers, awakeable ids, admin bodies, raw bytes) against
 * a real runner (bin/local.ts). Invariants: no 5xx except 501 `unimplemented` (nor gRPC's
 * UNKNOWN/INTERNAL/UNAVAILABLE/DATA_LOSS), no hang, no crash, a normal call still answers, RSS
 * back near its baseline. `npm run fuzz -- --runs N --seed S` runs a long one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleCases } from '../../bench/fuzz/cases.js';
import { alive, normalCallAnswers, runFuzz, runnerRssKb } from '../../bench/fuzz/run.js';
import { freePorts, startRunner, tempDataDir, type RunningRunner } from '../support/runner.js';
import { after, rawConnect } from './support.js';

const WARM_UP = { seed: 20_261_204, runs: 200 };
const SLICE = { seed: 7, runs: 400 };
/** Growth allowed over the warmed-up baseline: the V8 heap settles around +50 MB in long runs. */
const RSS_GROWTH_KB = 100 * 1024;
const HEADERS_MS = 3000;
const KEEP_ALIVE_MS = 4000;

describe('generated hostile requests against a real runner', () => {
  let runner: RunningRunner;
  let dataDir: Awaited<ReturnType<typeof tempDataDir>>;
  let ports: { ingress: number; admin: number };

  beforeAll(async () => {
    dataDir = await tempDataDir();
    // Short slow-client timeouts, checked below on the real process (fuzz requests finish well within them).
    const extraArgs = [
      '--headers-timeout-ms',
      String(HEADERS_MS),
      '--request-timeout-ms',
      '8000',
      '--keep-alive-timeout-ms',
      String(KEEP_ALIVE_MS),
      '--h2-idle-timeout-ms',
      '5000',
    ];
    runner = await startRunner({ ports: await freePorts(), dataDir: dataDir.path, env: { RESTLESS_INGRESS_DEADLINE_MS: '5000' }, extraArgs });
    ports = { ingress: runner.ports.ingress, admin: runner.ports.admin };
  });
  afterAll(async () => {
    runner?.kill();
    await dataDir?.remove();
  });

  it.each([{ port: 'ingress' as const }, { port: 'admin' as const }])(
    'closes a silent connection to the $port port of the runner process within the headers timeout (--headers-timeout-ms)',
    async ({ port }) => {
      // Act
      const client = await rawConnect(runner.ports[port]);
      const closedAfter = await Promise.race([client.closed, after(HEADERS_MS + 5000, -1)]);
      client.socket.destroy();

      // Assess
      expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_MS - 100);
      expect(closedAfter).toBeLessThan(HEADERS_MS + 1500);
    },
  );

  it.each([
    {
      port: 'ingress' as const,
      request: 'POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    },
    { port: 'admin' as const, request: 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' },
  ])('closes an idle keep-alive connection to the $port port of the runner process after --keep-alive-timeout-ms', async ({ port, request }) => {
    // Arrange: one request, answered.
    const client = await rawConnect(runner.ports[port]);
    const started = Date.now();
    client.socket.write(request);
    while (!client.received().includes('200 OK')) await after(10, undefined);
    const answeredAfter = Date.now() - started;

    // Act
    const closedAfter = await Promise.race([client.closed, after(KEEP_ALIVE_MS + 5000, -1)]);
    client.socket.destroy();

    // Assess
    expect(closedAfter - answeredAfter).toBeGreaterThanOrEqual(KEEP_ALIVE_MS - 200);
    expect(closedAfter - answeredAfter).toBeLessThan(KEEP_ALIVE_MS + 1500);
  });

  it('generates the same cases for the same seed', () => {
    expect(sampleCases(SLICE.seed, 20)).toEqual(sampleCases(SLICE.seed, 20));
    expect(sampleCases(SLICE.seed, 20)).not.toEqual(sampleCases(SLICE.seed + 1, 20));
  });

  it(`answers ${SLICE.runs} generated requests (seed ${SLICE.seed}) without a 5xx, a hang or a crash, and stays healthy`, async () => {
    // Arrange: warm the runner up (JIT, heap, caches), then take the memory baseline.
    await runFuzz(ports, { ...WARM_UP, timeoutMs: 15_000 });
    const rssBefore = runnerRssKb(runner.pid);

    // Act
    const report = await runFuzz(ports, { ...SLICE, timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const healthy = await normalCallAnswers(runner.ingressUrl);
    const rssAfter = runnerRssKb(runner.pid);

    // Assess
    expect(report.violations, JSON.stringify(report.violations, null, 2)).toEqual([]);
    expect(report.runs).toBe(SLICE.runs);
    // Every family took part, and most requests were refused as client mistakes, not served.
    expect(Object.keys(report.families).sort()).toEqual(['admin', 'connect', 'grpc', 'grpc-web', 'raw']);
    expect(
      Object.entries(report.statuses)
        .filter(([s]) => Number(s) >= 400 && Number(s) < 500)
        .reduce((n, [, v]) => n + v, 0),
    ).toBeGreaterThan(SLICE.runs / 3);
    expect(alive(runner.pid)).toBe(true);
    expect(healthy).toBe(true);
    expect(rssBefore).toBeGreaterThan(0);
    expect(rssAfter! - rssBefore!).toBeLessThan(RSS_GROWTH_KB);
  }, 120_000);
});
