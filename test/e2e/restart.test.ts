/**
 * `npm start` stopped and started again on the same --data-dir: state, invocation records and
 * registrations survive; the example endpoint is registered again; a user's own endpoint comes in
 * with --register; a second runner on a taken port says which port and exits non-zero.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  freePort,
  freePorts,
  occupyPort,
  portIsFree,
  processGroupGone,
  runToExit,
  startRunner,
  startScript,
  tempDataDir,
  type RunnerPorts,
  type RunningRunner,
  type RunningScript,
} from '../support/runner.js';

const JSON_CT = { 'content-type': 'application/json' };

async function post(base: string, path: string, body: unknown): Promise<{ status: number; id: string | null; json: unknown }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: JSON_CT, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, id: res.headers.get('x-restate-id'), json: text ? JSON.parse(text) : undefined };
}

async function get(url: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

// Each test starts whole runners (DynamoDB Local included), several at once: on a loaded 2-core machine that takes
// more than the default 30 s.
describe('npm start across a restart with the same --data-dir', { timeout: 120_000 }, () => {
  let dataDir: Awaited<ReturnType<typeof tempDataDir>>;
  let ports: RunnerPorts;
  let echoPort: number;
  let echo: RunningScript | undefined;
  let first: RunningRunner | undefined;
  let second: RunningRunner | undefined;
  /** The last counter/add of the first runner, and what it answered. */
  let lastId = '';

  beforeAll(async () => {
    dataDir = await tempDataDir();
    ports = await freePorts();
    echoPort = await freePort();
    // Both at once; each kept as soon as it is up, so afterAll stops it even when the other fails.
    const started = await Promise.allSettled([
      startScript('test/e2e/echo-endpoint.ts', [String(echoPort)], `Listening on ${echoPort}`).then((s) => (echo = s)),
      startRunner({ ports, dataDir: dataDir.path }).then((r) => (first = r)),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
  });

  afterAll(async () => {
    first?.kill();
    second?.kill();
    await echo?.stop();
    await dataDir?.remove();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      if (first) console.error(`first runner output (tail):\n${first.tail(4000)}`);
      if (second) console.error(`second runner output (tail):\n${second.tail(4000)}`);
    });
  });

  it('counts per key on the first runner', async () => {
    // Act
    const answers = [];
    for (const delta of [1, 2, 3]) answers.push(await post(first!.ingressUrl, '/counter/add', { key: 'persist', request: { delta } }));
    lastId = answers[2]?.id ?? '';

    // Assess
    expect(answers.map((a) => a.json)).toEqual([{ response: 1 }, { response: 3 }, { response: 6 }]);
    expect((await get(`${first!.adminUrl}/invocations/${lastId}`)).json).toMatchObject({ id: lastId, status: 'completed' });
  });

  let idempotentFirst: { status: number; id: string | null; json: unknown } | undefined;

  it('runs an idempotent call on the first runner', async () => {
    const res = await fetch(`${first!.ingressUrl}/counter/add`, {
      method: 'POST',
      headers: { ...JSON_CT, 'idempotency-key': 'across-restart' },
      body: JSON.stringify({ key: 'idem-restart', request: { delta: 5 } }),
    });
    idempotentFirst = { status: res.status, id: res.headers.get('x-restate-id'), json: await res.json() };
    expect(idempotentFirst.json).toEqual({ response: 5 });
  });

  it('exits 0 on Ctrl-C (SIGINT to its process group), leaving no process and no port behind', async () => {
    // Act
    const exit = await first!.stop({ group: true });

    // Assess
    expect(exit, first!.tail()).toEqual({ code: 0, signal: null });
    expect(await processGroupGone(first!.pid)).toBe(true);
    const dynamoPort = Number(new URL(first!.dynamoEndpoint).port);
    for (const port of [ports.ingress, ports.admin, ports.example, dynamoPort]) expect(await portIsFree(port), `port ${port}`).toBe(true);
  });

  it('starts again on the same ports and data, registering the example endpoint again and a --register endpoint', async () => {
    // Act
    second = await startRunner({ ports, dataDir: dataDir.path, extraArgs: ['--register', `http://localhost:${echoPort}`] });
    const counter = await get(`${second.adminUrl}/services/counter`);
    const endpoints = await get(`${second.adminUrl}/endpoints`);

    // Assess
    expect(second.output()).not.toMatch(/could not start|registering .* failed/);
    expect(counter.status).toBe(200);
    // Registering the same endpoint again bumps the revision (docs/protocol.md §5).
    expect(counter.json).toMatchObject({ name: 'counter', instance_type: 'Keyed', revision: 2, public: true });
    const list = (endpoints.json as { endpoints: { uri: string; services: { name: string }[] }[] }).endpoints;
    expect(list.map((e) => e.uri).sort()).toEqual([`http://127.0.0.1:${ports.example}`, `http://localhost:${echoPort}`].sort());
    expect(list.find((e) => e.uri.includes(String(echoPort)))?.services.map((s) => s.name)).toEqual(['echo']);
  });

  it('answers a repeated idempotent call after the restart with the first answer, without running it again', async () => {
    const res = await fetch(`${second!.ingressUrl}/counter/add`, {
      method: 'POST',
      headers: { ...JSON_CT, 'idempotency-key': 'across-restart' },
      body: JSON.stringify({ key: 'idem-restart', request: { delta: 5 } }),
    });
    expect({ status: res.status, id: res.headers.get('x-restate-id'), json: await res.json() }).toEqual(idempotentFirst);
    expect((await post(second!.ingressUrl, '/counter/get', { key: 'idem-restart' })).json).toEqual({ response: 5 });
  });

  it('answers counter/get with the count from before the restart, and keeps counting', async () => {
    // Act
    const before = await post(second!.ingressUrl, '/counter/get', { key: 'persist' });
    const added = await post(second!.ingressUrl, '/counter/add', { key: 'persist', request: { delta: 10 } });

    // Assess
    expect(before.status).toBe(200);
    expect(before.json).toEqual({ response: 6 });
    expect(added.json).toEqual({ response: 16 });
  });

  it('still answers status and output of an invocation from before the restart', async () => {
    // Act
    const status = await get(`${second!.adminUrl}/invocations/${lastId}`);
    const output = await get(`${second!.ingressUrl}/restate/invocation/${lastId}/output`);

    // Assess
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ id: lastId, status: 'completed', service: 'counter', method: 'add' });
    expect(output.status).toBe(200);
    expect(output.json).toEqual({ response: 6 });
  });

  it('serves the user endpoint given with --register', async () => {
    // Act
    const said = await post(second!.ingressUrl, '/echo/say', { request: { text: 'hi' } });

    // Assess
    expect(said.status).toBe(200);
    expect(said.json).toEqual({ response: 'echo: hi' });
  });

  describe('a second runner on a port already taken', () => {
    /** Starts a runner on free ports and its own data, but with `flag` set to `port`; waits for its exit. */
    async function startConflicting(flag: string, port: number): Promise<Awaited<ReturnType<typeof runToExit>>> {
      const own = await freePorts();
      const dir = join(dataDir.path, `conflict-${flag.slice(2)}`);
      await mkdir(dir, { recursive: true });
      const args = ['--ingress-port', String(own.ingress), '--admin-port', String(own.admin), '--example-port', String(own.example), '--data-dir', dir];
      // Later flags win in parseArgs, so the taken port replaces the free one.
      return runToExit([...args, flag, String(port)]);
    }

    it.concurrent.for([
      { which: 'the ingress port', flag: '--ingress-port', port: () => ports.ingress, message: /port (\d+) is already in use/ },
      { which: 'the admin port', flag: '--admin-port', port: () => ports.admin, message: /port (\d+) is already in use/ },
      { which: 'the example port', flag: '--example-port', port: () => ports.example, message: /port (\d+) \(example endpoint\) is already in use/ },
    ])('exits non-zero naming $which, which the first runner holds', async ({ flag, port, message }, { expect }) => {
      // Act
      const result = await startConflicting(flag, port());

      // Assess
      expect(result.code, result.output).not.toBe(0);
      expect(result.code, result.output).not.toBeNull();
      expect(result.output).not.toContain('Restless is running');
      expect(Number(message.exec(result.output)?.[1]), result.output).toBe(port());
      expect(await processGroupGone(result.pid), 'no DynamoDB Local left behind').toBe(true);
    });

    // Known bug, reported: DynamoDB Local's readiness probe (lib/local/dynamodb-local.ts) takes any
    // HTTP answer on --dynamo-port as its own, so the runner talks to whatever holds the port
    // (here: "Unexpected token 'o'"; with another runner's DynamoDB Local, it silently uses that
    // database). Flip to `it.concurrent` once the port is checked before Java starts.
    it.concurrent('exits non-zero naming the DynamoDB port when another program holds it', async ({ expect }) => {
      // Prepare
      const holder = await occupyPort(await freePort());

      // Act
      const result = await startConflicting('--dynamo-port', holder.port).finally(() => holder.release());

      // Assess
      expect(result.code, result.output).not.toBe(0);
      expect(Number(/port (\d+) is already in use \(DynamoDB Local\)/.exec(result.output)?.[1]), result.output).toBe(holder.port);
    });

    it('exits non-zero naming the example port with --lambda-processes too, leaving no process behind', { timeout: 180_000 }, async () => {
      // Prepare
      const holder = await occupyPort(await freePort());
      const own = await freePorts();

      // Act
      const args = ['--lambda-processes', '--in-memory', '--ingress-port', String(own.ingress), '--admin-port', String(own.admin)];
      const result = await runToExit([...args, '--example-port', String(holder.port)], 150_000).finally(() => holder.release());

      // Assess
      expect(result.code, result.output).not.toBe(0);
      expect(result.code, result.output).not.toBeNull();
      expect(result.output).toContain(`port ${holder.port} (example endpoint) is already in use`);
      expect(await processGroupGone(result.pid), 'no DynamoDB Local or function process left behind').toBe(true);
    });

    it('leaves the runner that holds the ports serving', async () => {
      // Act
      const res = await post(second!.ingressUrl, '/counter/get', { key: 'persist' });

      // Assess
      expect(res.json).toEqual({ response: 16 });
    });
  });

  it('exits 1 with a clear message when Java is missing', async () => {
    const result = await runToExit(['--data-dir', join(dataDir.path, 'nojava')], 20_000, { RESTLESS_JAVA: '/nonexistent/bin/java' });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/Java was not found \('\/nonexistent\/bin\/java'\)/);
    expect(result.output).toMatch(/openjdk-17-jre-headless/);
  });

  it('exits 2 with the usage for a port that is not a number', async () => {
    // Act
    const result = await runToExit(['--ingress-port', 'eighty', '--data-dir', join(dataDir.path, 'unused')], 20_000);

    // Assess
    expect(result.code, result.output).toBe(2);
    expect(result.output).toContain("invalid port 'eighty'");
    expect(result.output).toContain('--ingress-port');
  });

  it('stops the second runner with SIGINT to tsx alone (kill -INT) and frees its ports', async () => {
    // Act
    const exit = await second!.stop();

    // Assess
    expect(exit, second!.tail()).toEqual({ code: 0, signal: null });
    expect(await processGroupGone(second!.pid)).toBe(true);
    for (const port of [ports.ingress, ports.admin, ports.example]) expect(await portIsFree(port), `port ${port}`).toBe(true);
  });

  it('starts again on the same data at a new example address when the last one is taken', async () => {
    // Prepare: another program holds the example port of the last run.
    const holder = await occupyPort(ports.example);

    // Act
    let count: unknown;
    let uris: string[] | undefined;
    try {
      const third = await startRunner({ ports, dataDir: dataDir.path, defaultExamplePort: true });
      try {
        count = (await post(third.ingressUrl, '/counter/get', { key: 'persist' })).json;
        uris = ((await get(`${third.adminUrl}/endpoints`)).json as { endpoints: { uri: string }[] }).endpoints.map((e) => e.uri);
      } finally {
        await third.stop();
      }
    } finally {
      await holder.release();
    }

    // Assess
    expect(count).toEqual({ response: 16 });
    expect(uris).toContain(`http://127.0.0.1:${ports.example}`);
    expect(uris.filter((u) => u.startsWith('http://127.0.0.1:')).length).toBe(2);
  });

  it('serves the example at its last address again without --example-port, so a sleep in flight across the restart finishes', async () => {
    // Prepare: a sleep that suspends (over the 2 s inline wait), then the runner stops.
    const fourth = await startRunner({ ports, dataDir: dataDir.path, defaultExamplePort: true });
    let id: string | null = null;
    let exampleUri: string | undefined;
    try {
      const invoked = await post(fourth.ingressUrl, '/dev.restate.Ingress/Invoke', {
        service: 'sleeper',
        method: 'sleep',
        argument: { request: { millis: 4000 } },
      });
      id = invoked.id;
      const status = async () => ((await get(`${fourth.adminUrl}/invocations/${id}`)).json as { status?: string; deployment_id?: string }) ?? {};
      const deadline = Date.now() + 10_000;
      while ((await status()).status !== 'suspended' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const deploymentId = (await status()).deployment_id;
      exampleUri = ((await get(`${fourth.adminUrl}/endpoints/${deploymentId}`)).json as { uri: string }).uri;
    } finally {
      await fourth.stop();
    }

    // Act
    const fifth = await startRunner({ ports, dataDir: dataDir.path, defaultExamplePort: true });
    let attached: { status: number; json: unknown };
    let uris: string[];
    try {
      attached = await get(`${fifth.ingressUrl}/restate/invocation/${id}/attach`);
      uris = ((await get(`${fifth.adminUrl}/endpoints`)).json as { endpoints: { uri: string }[] }).endpoints.map((e) => e.uri);
    } finally {
      await fifth.stop();
    }

    // Assess
    expect(attached, fifth.tail()).toEqual({ status: 200, json: { response: 'slept 4000' } });
    expect(uris).toContain(exampleUri);
  });
});
