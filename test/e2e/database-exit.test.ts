/**
 * `npm start` without its database: when DynamoDB Local dies under a running runner (killed by
 * hand, by the OOM killer), every request would fail. The runner says why and exits non-zero
 * rather than answering 500 to everything while looking healthy.
 */
import { execSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, processGroupGone, startRunner, tempDataDir, type RunningRunner } from '../support/runner.js';

describe('npm start when DynamoDB Local dies', { timeout: 120_000 }, () => {
  let runner: RunningRunner | undefined;
  let dataDir: Awaited<ReturnType<typeof tempDataDir>> | undefined;
  afterAll(async () => {
    runner?.kill();
    await dataDir?.remove();
  });

  it('says that DynamoDB Local exited and exits 1, leaving nothing behind', async () => {
    dataDir = await tempDataDir();
    runner = await startRunner({ ports: await freePorts(), dataDir: dataDir.path, extraArgs: ['--no-example'] });
    // Without the example, the banner shows how to register an endpoint, not a call that would 404.
    expect(runner.output()).toContain(`curl -X POST ${runner.adminUrl}/endpoints`);
    expect(runner.output()).not.toContain('org.example.Greeter/Greet');
    const port = new URL(runner.dynamoEndpoint).port;
    const jvm = Number(execSync(`pgrep -f "DynamoDBLocal.jar .*-port ${port}"`).toString().trim().split('\n')[0]);
    expect(jvm).toBeGreaterThan(0);

    // Act
    process.kill(jvm, 'SIGKILL');
    const exit = await Promise.race([runner.exited, new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 20_000))]);

    // Assess
    expect(exit, runner.tail()).toEqual({ code: 1, signal: null });
    expect(runner.output()).toMatch(new RegExp(`Restless stopped: DynamoDB Local \\(pid ${jvm}\\) exited unexpectedly \\(signal SIGKILL\\)`));
    expect(await processGroupGone(runner.pid)).toBe(true);
  });
});
