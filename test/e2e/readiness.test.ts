/**
 * Runner readiness: a script that polls `/health` and then calls the example must never see the
 * example missing. The runner takes its ports first, but the admin `/health` answers 503 until the
example is registered.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, launchRunner, tempDataDir } from '../support/runner.js';

const stops: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

/** Polls until 200; returns the statuses seen before (0 = nothing listening yet). */
async function poll(url: string, deadline: number): Promise<Set<number>> {
  const seen = new Set<number>();
  for (;;) {
    if (Date.now() > deadline) throw new Error(`${url} never answered 200`);
    const status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return seen;
    seen.add(status);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('npm start readiness', () => {
  it('answers the example call as soon as /health first reports healthy', async () => {
    const ports = await freePorts();
    const dir = await tempDataDir();
    stops.push(() => dir.remove());
    const runner = launchRunner([
      '--ingress-port',
      String(ports.ingress),
      '--admin-port',
      String(ports.admin),
      '--example-port',
      String(ports.example),
      '--data-dir',
      dir.path,
    ]);
    stops.push(() => runner.kill());

    // Every answer before the first 200 is 503 "starting" (or no answer yet): never a 200 too early.
    const early = await poll(`http://127.0.0.1:${ports.admin}/health`, Date.now() + 100_000);
    const deployments = (await (await fetch(`http://127.0.0.1:${ports.admin}/deployments`)).json()) as { endpoints: unknown[] };
    const greet = await fetch(`http://127.0.0.1:${ports.ingress}/org.example.Greeter/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Pete' }),
    });

    expect([...early].filter((s) => s !== 0 && s !== 503)).toEqual([]);
    expect(deployments.endpoints.length).toBe(1);
    expect(greet.status, runner.output()).toBe(200);
  }, 150_000);
});
