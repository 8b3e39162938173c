/**
 * `restless console`: the web console for an admin API a browser cannot call itself — the
 * IAM-protected routes on AWS. A local server on 127.0.0.1 forwards each request to the admin
 * URL, signed with SigV4 from the standard credential chain, so `http://127.0.0.1:{port}/ui`
 * works as it does on the local runner.
 *
 *   browser ──▶ 127.0.0.1:{port} ──SigV4──▶ https://{api}.execute-api.{region}.amazonaws.com
 *
 * It holds the operator's credentials, so it answers only its own origin: requests naming another
 * Host (DNS rebinding) or coming from another site's page (an Origin header not its own) are refused.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_ADMIN_BODY_BYTES } from '../http/limits.js';
import type { AwsSigning } from './admin-client.js';
import { signRequest } from '../sigv4.js';

/** Response headers passed back to the browser; the rest (hop-by-hop, encodings fetch undid) are dropped. */
const PASSED_HEADERS = ['content-type', 'location', 'content-security-policy', 'x-content-type-options', 'cache-control', 'allow', 'x-restate-id'];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PATCH', 'DELETE']);

export interface ConsoleProxy {
  url: string;
  close(): Promise<void>;
}

export async function startConsoleProxy(opts: { adminUrl: string; aws?: AwsSigning; port: number }): Promise<ConsoleProxy> {
  const base = new URL(opts.adminUrl);
  let own = '';
  const server = createServer((req, res) => {
    forward(req, res).catch((err: unknown) => answer(res, 502, `the admin API did not answer: ${(err as Error).message}`));
  });

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    if (req.headers.host !== own) return answer(res, 421, `this proxy answers only ${own}`);
    if (req.headers.origin !== undefined && req.headers.origin !== `http://${own}`) return answer(res, 403, 'requests from other sites are refused');
    if (!METHODS.has(method)) return answer(res, 405, `${method} is not forwarded`);
    const body = await readBody(req);
    if (body === undefined) return answer(res, 413, `the body is over ${MAX_ADMIN_BODY_BYTES} bytes`);
    const incoming = new URL(req.url ?? '/', 'http://proxy');
    const target = new URL(base);
    target.pathname = `${base.pathname.replace(/\/$/, '')}${incoming.pathname}`;
    target.search = incoming.search;
    let headers: Record<string, string> = { accept: req.headers.accept ?? '*/*' };
    if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
    if (opts.aws) {
      headers = signRequest({ method, url: target, headers, body, region: opts.aws.region, service: 'execute-api', credentials: await opts.aws.credentials() });
      delete headers.host;
    }
    const upstream = await fetch(target, { method, headers, body: body.length > 0 ? body : undefined, redirect: 'manual' });
    const out: Record<string, string> = {};
    for (const name of PASSED_HEADERS) {
      const value = upstream.headers.get(name);
      if (value !== null) out[name] = value;
    }
    res.writeHead(upstream.status, out);
    res.end(Buffer.from(await upstream.arrayBuffer()));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  own = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${own}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ message, restate_code: null }));
}

/** The whole body, or undefined once it passes the admin API's own limit. */
async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
