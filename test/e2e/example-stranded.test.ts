/**
 * `npm start` serves every example deployment that still has invocations pinned to it. When the
 * example's previous port is taken at a start, the example moves to another port (a new
 * deployment) and the runner warns about the invocations left on the old one; at a later start
 * with that port free, it serves the old deployment there too, and they finish.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, occupyPort, startRunner, tempDataDir, type RunningRunner } from '../support/runner.js';

const JSON_CT = { 'content-type': 'application/json' };

async function json(url: string, init?: RequestInit): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function examplePort(adminUrl: string): Promise<number> {
  const { json: body } = await json(`${adminUrl}/services/org.example.Greeter`);
  const { json: endpoint } = await json(`${adminUrl}/endpoints/${encodeURIComponent((body as { endpoint_id: string }).endpoint_id)}`);
  return Number(new URL((endpoint as { uri: string }).uri).port);
}

describe('npm start with an earlier example deployment holding invocations', { timeout: 180_000 }, () => {
  const runners: RunningRunner[] = [];
  let dataDir: Awaited<ReturnType<typeof tempDataDir>> | undefined;
  afterAll(async () => {
    for (const r of runners) r.kill();
    await dataDir?.remove();
  });

  it('warns while the old port is taken, and finishes the pinned invocation once it is free', async () => {
    dataDir = await tempDataDir();
    const start = async () => {
      const r = await startRunner({ ports: await freePorts(), dataDir: dataDir!.path, defaultExamplePort: true });
      runners.push(r);
      return r;
    };

    // A sleep pinned to the example deployment of the first start.
    const first = await start();
    const oldPort = await examplePort(first.adminUrl);
    const sent = await json(`${first.ingressUrl}/dev.restate.Ingress/Invoke`, {
      method: 'POST',
      headers: JSON_CT,
      body: JSON.stringify({ service: 'sleeper', method: 'sleep', argument: { request: { millis: 3000 } } }),
    });
    const id = (sent.json as { id: string }).id;
    expect(sent.status).toBe(200);
    // Pinned once it has journaled progress: the sleep entry, then it suspends.
    await expect
      .poll(async () => ((await json(`${first.adminUrl}/invocations/${id}`)).json as { status?: string }).status, { timeout: 10_000 })
      .toBe('suspended');
    expect((await first.stop()).code).toBe(0);

    // The old port taken: the example moves, and the runner says what is left behind.
    const blocker = await occupyPort(oldPort);
    try {
      const second = await start();
      expect(await examplePort(second.adminUrl)).not.toBe(oldPort);
      await expect.poll(() => second.output(), { timeout: 10_000 }).toMatch(/an earlier deployment of the example endpoint cannot be served/);
      expect(second.output()).toMatch(new RegExp(`"port":${oldPort}.*"pinnedInvocations":1|"pinnedInvocations":1.*"port":${oldPort}`));
      expect((await json(`${second.adminUrl}/invocations/${id}`)).json).toMatchObject({ status: expect.not.stringMatching(/completed/) });
      expect((await second.stop()).code).toBe(0);
    } finally {
      await blocker.release();
    }

    // The port free again: the old deployment is served beside the latest, and the sleep finishes.
    const third = await start();
    const done = await json(`${third.ingressUrl}/restate/invocation/${id}/attach`);
    expect(done.status, third.tail()).toBe(200);
    expect((await json(`${third.adminUrl}/invocations/${id}`)).json).toMatchObject({ status: 'completed' });
    expect((await third.stop()).code).toBe(0);
  });
});
