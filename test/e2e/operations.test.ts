/**
 * Operating a real local runner: the `restless` CLI as a subprocess (tables, --json, exit codes),
 * the key inspection route, and the web console in a real headless Chromium (Debian's package,
 * driven by playwright-core), which leaves a screenshot in test-artifacts/.
 * One runner and one SDK endpoint (test/e2e/ops-endpoint.ts) serve the whole file.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freePorts, REPO_ROOT, startRunner, startScript, tempDataDir, type RunningRunner, type RunningScript } from '../support/runner.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

let runner: RunningRunner;
let endpoint: RunningScript;
let endpointPort: number;
const cleanup: (() => Promise<unknown> | void)[] = [];

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `restless …` exactly as `npx restless` runs it: the package's bin, as its own process. */
function cli(...args: string[]): Promise<CliRun> {
  return new Promise((res) => {
    execFile(
      'node',
      [join(REPO_ROOT, 'bin/restless.mjs'), '--admin', runner.adminUrl, '--ingress', runner.ingressUrl, ...args],
      { cwd: REPO_ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        res({ code, stdout, stderr });
      },
    );
  });
}

async function cliJson<T>(...args: string[]): Promise<T> {
  const run = await cli('--json', ...args);
  if (run.code !== 0) throw new Error(`restless ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

async function invoke(service: string, method: string, argument: unknown): Promise<string> {
  const res = await fetch(`${runner.ingressUrl}/dev.restate.Ingress/Invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service, method, argument }),
  });
  const body = (await res.json()) as { id?: string };
  if (!body.id) throw new Error(`Invoke ${service}/${method}: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

interface Detail {
  id: string;
  status: string;
  attempts: number;
  inbox_position?: number;
  last_failure?: { message: string };
  result?: { kind: string; message?: string };
  journal: { index: number; kind: string; name?: string; completed: boolean; waiting_for?: Record<string, string> }[];
}

/** Polls the detail until `ok` holds (the runner works asynchronously). */
async function until(id: string, ok: (d: Detail) => boolean, timeoutMs = 30_000): Promise<Detail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = (await (await fetch(`${runner.adminUrl}/invocations/${id}`)).json()) as Detail;
    if (ok(d)) return d;
    if (Date.now() > deadline) throw new Error(`invocation ${id} never got there: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ids = { quick: [] as string[], nap: '', flaky: '', hold1: '', hold2: '' };

beforeAll(async () => {
  endpointPort = await freePort();
  const dir = await tempDataDir();
  cleanup.push(() => dir.remove());
  const [r, e] = await Promise.all([
    startRunner({ ports: await freePorts(), dataDir: dir.path, extraArgs: ['--sweep-interval-ms', '1000'] }),
    startScript('test/e2e/ops-endpoint.ts', [String(endpointPort)], `Listening on ${endpointPort}`),
  ]);
  runner = r;
  endpoint = e;
  cleanup.push(
    () => runner.stop({ group: true }).catch(() => runner.kill()),
    () => endpoint.stop(),
  );
}, 150_000);

afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

describe('restless CLI against the local runner', () => {
  it('registers a deployment and lists its services (table, then --json)', async () => {
    const registered = await cli('deployments', 'register', `http://127.0.0.1:${endpointPort}`);
    const listed = await cli('services', 'ls');
    const json = await cliJson<{ services: { name: string; instance_type: string; public: boolean }[] }>('services', 'ls');

    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stdout).toMatch(/^Registered \S+/);
    expect(registered.stdout).toMatch(/ops\s+1/);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+TYPE\s+PUBLIC\s+REVISION\s+METHODS\s+DEPLOYMENT$/);
    expect(listed.stdout).toMatch(/\nvault\s+Keyed\s+true\s+1\s+1\s+/);
    expect(json.services.find((s) => s.name === 'vault')).toMatchObject({ instance_type: 'Keyed', public: true });
    expect(json.services.find((s) => s.name === 'ops')).toMatchObject({ instance_type: 'Unkeyed', public: true });
  }, 60_000);

  it('makes a service private and public again (the ingress answers 403 meanwhile)', async () => {
    const priv = await cli('services', 'private', 'ops');
    const refused = await fetch(`${runner.ingressUrl}/ops/quick`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"request":{"n":1}}',
    });
    const pub = await cli('services', 'public', 'ops');
    const described = await cli('services', 'describe', 'ops');

    expect([priv.code, priv.stdout.trim()]).toEqual([0, 'ops is now private']);
    expect(refused.status).toBe(403);
    expect([pub.code, pub.stdout.trim()]).toEqual([0, 'ops is now public']);
    expect(described.stdout).toMatch(/Public:\s+true/);
    expect(described.stdout).toMatch(/\nnap\s+/);
  }, 60_000);

  it('lists, filters and pages invocations in every state', async () => {
    for (let n = 1; n <= 3; n++) ids.quick.push(await invoke('ops', 'quick', { request: { n } }));
    ids.nap = await invoke('ops', 'nap', { request: { ms: 600_000 } });
    ids.flaky = await invoke('ops', 'flaky', { request: {} });
    ids.hold1 = await invoke('vault', 'hold', { key: 'alice', request: {} });
    await until(ids.hold1, (d) => d.status === 'suspended');
    ids.hold2 = await invoke('vault', 'hold', { key: 'alice', request: {} });
    await until(ids.nap, (d) => d.status === 'suspended');
    for (const id of ids.quick) await until(id, (d) => d.status === 'completed');
    await until(ids.flaky, (d) => d.attempts >= 2);

    const all = await cliJson<{ invocations: { id: string }[] }>('invocations', 'ls');
    const suspended = await cliJson<{ invocations: { id: string }[] }>('invocations', 'ls', '--status', 'suspended');
    const alice = await cliJson<{ invocations: { id: string; key: string }[] }>('invocations', 'ls', '--service', 'vault', '--key', 'alice');
    const firstPage = await cli('invocations', 'ls', '--limit', '2');
    const paged = await cliJson<{ invocations: { id: string }[]; next_cursor?: string }>('invocations', 'ls', '--limit', '2', '--all');

    const everything = [...ids.quick, ids.nap, ids.flaky, ids.hold1, ids.hold2];
    expect(all.invocations.map((i) => i.id).sort()).toEqual([...everything].sort());
    // Newest first.
    expect(all.invocations[0]!.id).toBe(ids.hold2);
    expect(suspended.invocations.map((i) => i.id).sort()).toEqual([ids.nap, ids.hold1].sort());
    expect(alice.invocations.map((i) => i.id)).toEqual([ids.hold2, ids.hold1]);
    expect(firstPage.code).toBe(0);
    expect(firstPage.stdout.split('\n')[0]).toMatch(/^ID\s+TARGET\s+KEY\s+STATUS\s+ATTEMPTS\s+CREATED/);
    expect(firstPage.stdout).toMatch(new RegExp(`\\n${ids.hold2}\\s+vault/hold\\s+alice\\s+inboxed\\s+0\\s+`));
    expect(firstPage.stdout).toMatch(/\n\nMore: restless invocations ls --cursor \S+$/m);
    expect(paged.invocations.map((i) => i.id).sort()).toEqual([...everything].sort());
    expect(paged.next_cursor).toBeUndefined();
  }, 120_000);

  it("describes an invocation's journal: a timer, an awakeable, the inbox and the last failure", async () => {
    const nap = await cliJson<Detail>('invocations', 'describe', ids.nap);
    const napText = await cli('invocations', 'describe', ids.nap);
    const hold1 = await cliJson<Detail>('invocations', 'describe', ids.hold1);
    const hold2 = await cliJson<Detail>('invocations', 'describe', ids.hold2);
    const flaky = await cliJson<Detail>('invocations', 'describe', ids.flaky);

    const sleep = nap.journal.find((e) => e.kind === 'sleep');
    expect(sleep?.completed).toBe(false);
    expect(Date.parse(sleep!.waiting_for!.timer!) - Date.now()).toBeGreaterThan(500_000);
    expect(napText.stdout).toMatch(/\n\d+\s+sleep\s+pending\s+waits for timer \d{4}-/);
    expect(hold1.inbox_position).toBe(0);
    expect(hold1.journal.map((e) => [e.kind, e.name ?? '', e.completed])).toEqual([
      ['set_state', 'note', true],
      ['set_state', 'count', true],
      ['awakeable', '', false],
    ]);
    expect(hold1.journal[2]!.waiting_for!.awakeable).toMatch(/^prom_1/);
    expect([hold2.status, hold2.inbox_position]).toEqual(['inboxed', 1]);
    expect(flaky.last_failure?.message).toContain('flaky on purpose');
  }, 60_000);

  it('lists deployments with their pinned invocations and refuses to remove one in use (exit 5)', async () => {
    const listed = await cli('deployments', 'ls');
    const json = await cliJson<{ endpoints: { id: string; uri?: string; pinned_invocations?: number }[] }>('deployments', 'ls');
    const ours = json.endpoints.find((e) => e.uri === `http://127.0.0.1:${endpointPort}`)!;
    const removed = await cli('deployments', 'remove', ours.id);

    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+ADDRESS\s+SERVICES\s+PINNED\s+CREATED$/);
    expect(listed.stdout).toContain(`http://127.0.0.1:${endpointPort}`);
    // nap, flaky and the key holder have journaled progress on it.
    expect(ours.pinned_invocations).toBeGreaterThanOrEqual(2);
    expect(removed.code).toBe(5);
    expect(removed.stderr).toMatch(/pinned/i);
  }, 60_000);

  it("shows a key's state sizes, lock holder and inbox", async () => {
    const res = await fetch(`${runner.adminUrl}/services/vault/keys/alice`);
    const body = (await res.json()) as { lock_holder: string; inbox: string[]; state: { key: string; size: number }[] };

    expect(res.status).toBe(200);
    expect(body.lock_holder).toBe(ids.hold1);
    expect(body.inbox).toEqual([ids.hold2]);
    expect(body.state.find((s) => s.key === 'note')?.size).toBe(102);
  });

  it('prints a result, tells an unfinished one by exit code 6, cancels and kills', async () => {
    const output = await cli('invocations', 'output', ids.quick[2]!);
    const notYet = await cli('invocations', 'output', ids.nap);
    const cancel = await cli('invocations', 'cancel', ids.nap);
    const attached = await cli('invocations', 'attach', ids.nap);
    const kill = await cli('invocations', 'kill', ids.flaky);
    const killed = await until(ids.flaky, (d) => d.status === 'completed');

    expect(output.code).toBe(0);
    expect(JSON.parse(output.stdout)).toEqual({ response: 6 });
    expect(notYet.code).toBe(6);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(attached.code).toBe(1);
    expect(attached.stderr).toMatch(/canceled/i);
    expect(kill.code).toBe(0);
    expect(killed.result).toMatchObject({ kind: 'failure', message: 'killed' });
  }, 90_000);

  it.each([
    { case: 'an unknown invocation → 4', args: ['invocations', 'describe', 'inv_AAAAAAAAAAAAAAAAAAAAAA'], code: 4 },
    { case: 'an unknown flag → 2', args: ['invocations', 'ls', '--bogus'], code: 2 },
    { case: 'an unknown status → 5', args: ['invocations', 'ls', '--status', 'sleeping'], code: 5 },
    { case: 'nothing at the admin URL → 3', args: ['--admin', 'http://127.0.0.1:1', 'services', 'ls'], code: 3 },
  ])(
    'exits with $case',
    async ({ args, code }) => {
      const run = await cli(...args);

      expect(run.code).toBe(code);
      expect(run.stderr).not.toBe('');
    },
    30_000,
  );
});

describe('web console in headless Chromium', () => {
  let browser: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    profile = await mkdtemp(join(tmpdir(), 'restless-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows services, toggles public, pages invocations, draws a journal and kills from it', async () => {
    const page = await browser.newPage();
    page.on('dialog', (d) => void d.accept());

    await page.goto(`${runner.adminUrl}/ui`);
    await page.getByTestId('service-vault').waitFor();
    await page.getByTestId('public-ops').uncheck();
    await expect.poll(async () => ((await (await fetch(`${runner.adminUrl}/services/ops`)).json()) as { public: boolean }).public).toBe(false);
    await page.getByTestId('public-ops').check();
    await expect.poll(async () => ((await (await fetch(`${runner.adminUrl}/services/ops`)).json()) as { public: boolean }).public).toBe(true);

    await page.goto(`${runner.adminUrl}/ui#/invocations?limit=3`);
    await page.getByTestId('invocation-row').first().waitFor();
    const first = await page.getByTestId('invocation-row').allTextContents();
    await page.getByTestId('next').click();
    await expect.poll(async () => (await page.getByTestId('invocation-row').allTextContents()).join()).not.toBe(first.join());
    const second = await page.getByTestId('invocation-row').allTextContents();
    expect(first).toHaveLength(3);
    expect(second.length).toBeGreaterThan(0);
    expect(second.some((row) => first.includes(row))).toBe(false);

    await page.goto(`${runner.adminUrl}/ui#/invocations?service=vault`);
    await page.getByRole('link', { name: ids.hold1 }).click();
    await page.getByTestId('journal-entry').nth(2).waitFor();
    const entries = await page.getByTestId('journal-entry').allTextContents();
    expect(entries[2]).toMatch(/#3 awakeable.*pending.*waits for awakeable prom_1/);
    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'console-journal.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(5_000);

    await page.getByTestId('kill').click();
    await expect.poll(async () => page.getByTestId('fields').textContent(), { timeout: 15_000 }).toMatch(/completed.*failure \[10\] killed/);
    // The key passed on: the next in line holds it now.
    await until(ids.hold2, (d) => d.inbox_position === 0);
  }, 120_000);
});
