/**
 * `npm start -- --in-memory`: DynamoDB Local keeps everything in memory. It serves as usual, writes
 * nothing to the data folder, says so in its banner, and a restart starts from an empty table.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, startRunner, tempDataDir, type RunningRunner } from '../support/runner.js';

async function add(runner: RunningRunner, key: string, delta: number): Promise<unknown> {
  const res = await fetch(`${runner.ingressUrl}/counter/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key, request: { delta } }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

describe('npm start --in-memory', { timeout: 120_000 }, () => {
  let runner: RunningRunner | undefined;
  const dirs: Array<{ remove(): Promise<void> }> = [];
  afterAll(async () => {
    runner?.kill();
    await Promise.all(dirs.map((d) => d.remove()));
  });

  it('serves calls with state, keeps nothing on disk, and forgets everything on restart', async () => {
    const dataDir = await tempDataDir();
    dirs.push(dataDir);
    const ports = await freePorts();
    runner = await startRunner({ ports, dataDir: dataDir.path, extraArgs: ['--in-memory'] });
    expect(runner.output()).toContain('(in memory: nothing survives a restart)');
    expect(await add(runner, 'k', 2)).toEqual({ response: 2 });
    expect(await add(runner, 'k', 3)).toEqual({ response: 5 });
    expect(existsSync(join(dataDir.path, 'dynamodb'))).toBe(false);
    expect(await readdir(dataDir.path)).toEqual([]);

    await runner.stop({ group: true });
    runner = await startRunner({ ports: await freePorts(), dataDir: dataDir.path, extraArgs: ['--in-memory'] });
    // A new, empty table: the key's state starts over.
    expect(await add(runner, 'k', 3)).toEqual({ response: 3 });
  });
});
