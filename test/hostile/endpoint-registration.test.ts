/**
 * Hostile input, issue item 8: `POST /endpoints` cannot be pointed at link-local or
 * instance-metadata addresses (unless the operator opts in), gives up on a target that never
 * answers within the discovery timeout, and never relays the target's body.
 */
import { createServer as createH2Server } from 'node:http2';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv, DEFAULTS } from '../../lib/config.js';
import type { RestlessError } from '../../lib/errors.js';
import { checkEndpointUri, forbiddenRule } from '../../lib/endpoint/address-guard.js';
import { H2cSessionPool } from '../../lib/endpoint/h2c.js';
import { listen } from '../../lib/local/http-front.js';
import { DEFAULT_DISCOVERY_TIMEOUT_MS } from '../../lib/registry/discovery.js';
import { RegistryStore } from '../../lib/registry/registry-store.js';
import { Registry } from '../../lib/registry/registry.js';
import { freshTable } from '../support/ddb.js';
import { startStack, type Stack } from './support.js';

async function register(stack: Stack, body: unknown): Promise<{ status: number; json: { message: string; restate_code: string | null }; tookMs: number }> {
  const started = Date.now();
  const res = await fetch(`${stack.adminUrl}/endpoints`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as { message: string; restate_code: string | null }, tookMs: Date.now() - started };
}

describe('endpoint registration targets', () => {
  const DISCOVERY_TIMEOUT_MS = 800;
  let stack: Stack;
  let silent: Server;
  let silentUri: string;
  const held: Socket[] = [];

  beforeAll(async () => {
    stack = await startStack({ config: { discoveryTimeoutMs: DISCOVERY_TIMEOUT_MS } });
    // Accepts connections and never answers a byte.
    silent = createNetServer((socket) => held.push(socket));
    silentUri = `http://127.0.0.1:${await listen(silent, 0)}`;
  });
  afterAll(async () => {
    held.forEach((s) => s.destroy());
    await new Promise((r) => silent?.close(r));
    await stack?.close();
  });

  it.each([
    { $case: 'the IPv4 instance metadata address', uri: 'http://169.254.169.254/latest/meta-data/', rule: /link-local 169\.254\.0\.0\/16/ },
    { $case: 'another 169.254.0.0/16 address with a port', uri: 'http://169.254.1.2:9080', rule: /link-local 169\.254\.0\.0\/16/ },
    { $case: 'the metadata address spelled in hex', uri: 'http://0xa9fea9fe/', rule: /169\.254\.169\.254 is refused/ },
    { $case: 'the metadata address spelled as one number', uri: 'http://2852039166/', rule: /169\.254\.169\.254 is refused/ },
    { $case: 'an IPv4-mapped IPv6 metadata address', uri: 'http://[::ffff:169.254.169.254]/', rule: /link-local 169\.254\.0\.0\/16/ },
    { $case: 'an IPv6 link-local address', uri: 'http://[fe80::1]:9080/', rule: /link-local fe80::\/10/ },
    { $case: 'the IPv6 instance metadata address', uri: 'http://[fd00:ec2::254]/', rule: /instance metadata address fd00:ec2::254/ },
  ])('refuses $$case with 400 before connecting, naming the rule and the opt-in', async ({ uri, rule }) => {
    // Act
    const res = await register(stack, { uri });

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(rule);
    expect(res.json.message).toContain('RESTLESS_ALLOW_LINK_LOCAL_ENDPOINTS=true');
    expect(res.json.restate_code).toBe('META0003');
    // No connection, no retries with backoff (they alone would take 1.5 s): the refusal is immediate.
    expect(res.tookMs).toBeLessThan(1200);
  });

  it('gives up on a target that accepts the connection and never answers, within the discovery timeout', async () => {
    // Act
    const res = await register(stack, { uri: silentUri });

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.message).toBe(`Discovery at ${silentUri} did not answer within ${DISCOVERY_TIMEOUT_MS} ms`);
    expect(res.tookMs).toBeGreaterThanOrEqual(DISCOVERY_TIMEOUT_MS - 50);
    expect(res.tookMs).toBeLessThan(DISCOVERY_TIMEOUT_MS + 1500);
  });

  it('names the status and content type a wrong target answered, never its body', async () => {
    // Arrange: an HTTP/2 server that answers every request with an HTML page.
    const page = createH2Server((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<html>SECRET-TOKEN-1234</html>'));
    const uri = `http://127.0.0.1:${await listen(page, 0)}`;

    // Act
    const res = await register(stack, { uri });
    // Closes once the runtime's pooled session to it goes (stack.close()).
    page.close();

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.message).toContain('answered HTTP 404');
    expect(res.json.message).toContain("content type 'text/html'");
    expect(res.json.message).not.toContain('SECRET');
  });

  it('keeps loopback and private ranges allowed (the example endpoint registers on 127.0.0.1)', async () => {
    // Act
    const list = await fetch(`${stack.adminUrl}/endpoints`);

    // Assess
    expect(list.status).toBe(200);
    expect(((await list.json()) as { endpoints: unknown[] }).endpoints).toHaveLength(1);
    await expect(checkEndpointUri('http://10.1.2.3:9080', { allowLinkLocal: false })).resolves.toBeUndefined();
    await expect(checkEndpointUri('http://[::1]:9080', { allowLinkLocal: false })).resolves.toBeUndefined();
    await expect(checkEndpointUri('http://192.168.0.10', { allowLinkLocal: false })).resolves.toBeUndefined();
  });
});

describe('the link-local rule for host names', () => {
  const pool = new H2cSessionPool();
  afterAll(() => pool.close());

  const failure = (p: Promise<unknown>): Promise<RestlessError> =>
    p.then(
      () => {
        throw new Error('registration succeeded');
      },
      (e: unknown) => e as RestlessError,
    );

  const registryWith = async (allowLinkLocal: boolean) =>
    new Registry({
      store: new RegistryStore(await freshTable('guard')),
      discovery: { attempts: 1, timeoutMs: 300 },
      // A resolver stand-in: no DNS on the test machine resolves to 169.254.0.0/16.
      transportDeps: {
        h2Pool: pool,
        addressPolicy: { allowLinkLocal, resolve: async (host) => (host === 'metadata.test' ? ['10.0.0.9', '169.254.169.254'] : ['10.0.0.9']) },
      },
    });

  it('refuses a host name when any address it resolves to is link-local', async () => {
    // Act
    const err = await failure((await registryWith(false)).register({ uri: 'http://metadata.test:9080' }));

    // Assess
    expect(err.httpStatus).toBe(400);
    expect(err.message).toMatch(/^The endpoint address metadata\.test \(resolves to 169\.254\.169\.254\) is refused: link-local 169\.254\.0\.0\/16/);
  });

  it('lets an operator opt in: the address is then tried (and here, unreachable)', async () => {
    // Act
    const err = await failure((await registryWith(true)).register({ uri: 'http://169.254.169.254:9' }));

    // Assess
    expect(err.httpStatus).toBe(400);
    expect(err.message).not.toMatch(/is refused/);
    expect(err.message).toMatch(/^(Cannot reach|Discovery at) http:\/\/169\.254\.169\.254:9/);
  });

  it.each([
    { ip: '169.254.169.254', rule: 'link-local 169.254.0.0/16 (instance metadata)' },
    { ip: '::ffff:a9fe:a9fe', rule: 'link-local 169.254.0.0/16 (instance metadata)' },
    { ip: '64:ff9b::a9fe:a9fe', rule: 'link-local 169.254.0.0/16 (instance metadata)' },
    { ip: 'febf:ffff::1', rule: 'link-local fe80::/10' },
    { ip: 'fd00:ec2:0::254', rule: 'the instance metadata address fd00:ec2::254' },
    { ip: '127.0.0.1', rule: undefined },
    { ip: '10.0.0.1', rule: undefined },
    { ip: 'fec0::1', rule: undefined },
    { ip: 'fd00:ec2::253', rule: undefined },
  ])('classifies $ip', ({ ip, rule }) => {
    expect(forbiddenRule(ip)).toBe(rule);
  });

  it('has a discovery timeout of at most 10 s by default, configurable by RESTLESS_DISCOVERY_TIMEOUT_MS', () => {
    expect(DEFAULT_DISCOVERY_TIMEOUT_MS).toBeLessThanOrEqual(10_000);
    expect(DEFAULTS.discoveryTimeoutMs).toBe(DEFAULT_DISCOVERY_TIMEOUT_MS);
    expect(configFromEnv({ RESTLESS_DISCOVERY_TIMEOUT_MS: '2500' }).discoveryTimeoutMs).toBe(2500);
    expect(configFromEnv({}).allowLinkLocalEndpoints).toBe(false);
    expect(configFromEnv({ RESTLESS_ALLOW_LINK_LOCAL_ENDPOINTS: 'true' }).allowLinkLocalEndpoints).toBe(true);
  });
});
