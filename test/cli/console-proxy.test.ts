/**
 * `restless console`'s local proxy: requests reach the admin URL signed with SigV4 (a signature
 * the receiver can recompute), bodies and answers pass through, and it answers only its own origin.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startConsoleProxy, type ConsoleProxy } from '../../lib/cli/console-proxy.js';
import { signRequest } from '../../lib/sigv4.js';

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret/EXAMPLE', sessionToken: 'token' };

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let upstream: Server;
let upstreamUrl: string;
let seen: Seen[];
let signed: ConsoleProxy;
let plain: ConsoleProxy;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json', 'x-internal': 'not for the browser' });
      res.end(JSON.stringify({ ok: true, path: req.url }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/admin`;
  signed = await startConsoleProxy({ adminUrl: upstreamUrl, port: 0, aws: { region: 'eu-west-1', credentials: async () => CREDENTIALS } });
  plain = await startConsoleProxy({ adminUrl: upstreamUrl, port: 0 });
});

afterAll(async () => {
  await signed.close();
  await plain.close();
  await new Promise<void>((r) => upstream.close(() => r()));
});

beforeEach(() => {
  seen = [];
});

/** A raw request, so tests can set Host and Origin as a browser (or an attacker's page) would. */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body = '',
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { host: u.host, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('console proxy', () => {
  it('forwards under the admin URL with a SigV4 signature the receiver can recompute', async () => {
    const res = await raw(signed.url, 'GET', '/invocations?status=suspended&limit=5');

    expect(res.status).toBe(200);
    const got = seen[0]!;
    expect(got.url).toBe('/admin/invocations?status=suspended&limit=5');
    const date = got.headers['x-amz-date'] as string;
    const again = signRequest({
      method: 'GET',
      url: new URL(`http://${got.headers.host as string}${got.url}`),
      headers: { accept: got.headers.accept as string },
      body: new Uint8Array(),
      region: 'eu-west-1',
      service: 'execute-api',
      credentials: CREDENTIALS,
      date: new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`),
    });
    expect(got.headers.authorization).toBe(again.authorization);
    expect(got.headers['x-amz-security-token']).toBe('token');
  });

  it('passes a body and the content type on, and only the answer headers a browser needs back', async () => {
    const res = await raw(signed.url, 'PATCH', '/services/ops', { 'content-type': 'application/json', origin: signed.url }, '{"public":false}');

    expect([seen[0]!.method, seen[0]!.body, seen[0]!.headers['content-type']]).toEqual(['PATCH', '{"public":false}', 'application/json']);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-internal']).toBeUndefined();
  });

  it('does not sign for an admin URL that needs no signature', async () => {
    await raw(plain.url, 'GET', '/services');

    expect(seen[0]!.headers.authorization).toBeUndefined();
  });

  it.each([
    { case: "another site's page (Origin)", headers: { origin: 'http://evil.example' } as Record<string, string>, status: 403 },
    { case: 'another Host (DNS rebinding)', headers: { host: 'evil.example:80' } as Record<string, string>, status: 421 },
  ])('refuses a request from $case without forwarding it', async ({ headers, status }) => {
    const res = await raw(signed.url, 'POST', '/deployments', { 'content-type': 'text/plain', ...headers }, '{"uri":"http://x"}');

    expect(res.status).toBe(status);
    expect(seen).toEqual([]);
  });
});
