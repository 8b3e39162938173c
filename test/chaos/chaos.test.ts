/**
 * The chaos suite in `npm test`: a few seeds of the randomized multi-process fault run (runners
 * killed and frozen, DynamoDB/timer/endpoint faults), checked at quiescence. A failing seed
 * replays with `npm run chaos -- --seed N`; `npm run chaos -- --seeds 1000` is the long run.
 */
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from './processes.js';
import { formatSeed, runSuite } from './suite.js';

const SEEDS = [1, 2];

describe('durability under faults (randomized, several processes)', () => {
  it(`leaves every accepted invocation with exactly one terminal outcome (seeds ${SEEDS.join(', ')})`, async () => {
    // Act
    const report = await runSuite({
      seeds: SEEDS,
      processes: 3,
      durationMs: 3000,
      opsPerSecond: 6,
      // Generous: in `npm test` the other test files load the same two cores.
      quiesceTimeoutMs: 60_000,
      dynamoEndpoint: inject('ddbEndpoint'),
      logsDir: join(REPO_ROOT, '.restless/chaos'),
    });

    // Assess
    expect(report.runs).toHaveLength(SEEDS.length);
    const failures = report.runs.filter((r) => r.violations.length > 0).map(formatSeed);
    expect(failures, failures.join('\n')).toEqual([]);
  }, 240_000);
});
