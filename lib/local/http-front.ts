/**
 * The local stand-in for API Gateway: a Node HTTP server that turns each request into the
 * payload 2.0 event API Gateway would send, calls the same Lambda handler, and writes the result.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { eventFromRequest, responseFromResult, type ApiGatewayEvent, type ApiGatewayResult } from '../http/apigw.js';
import type { LambdaContextLike } from '../http/lambda.js';

export type LambdaHttpHandler = (event: ApiGatewayEvent, context: LambdaContextLike) => Promise<ApiGatewayResult>;

let requestCounter = 0;

export async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Calls a Lambda handler for one Node request, as API Gateway would. */
export async function serveThroughLambda(handler: LambdaHttpHandler, req: IncomingMessage, res: ServerResponse, timeoutMs = 30_000): Promise<void> {
  const body = await readBody(req);
  const event = eventFromRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, sourceIp: req.socket.remoteAddress });
  const deadline = Date.now() + timeoutMs;
  const context: LambdaContextLike = { awsRequestId: `local-${++requestCounter}`, getRemainingTimeInMillis: () => deadline - Date.now() };
  let out;
  try {
    out = responseFromResult(await handler(event, context));
  } catch (err) {
    // API Gateway answers 500 "Internal Server Error" when the integration fails.
    console.error(JSON.stringify({ level: 'error', msg: 'handler threw', error: String(err) }));
    out = { status: 500, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"message":"Internal Server Error"}') };
  }
  res.writeHead(out.status, { ...out.headers, 'content-length': String(out.body.length) });
  res.end(out.body);
}

export function createLambdaFront(handler: LambdaHttpHandler): Server {
  return createServer((req, res) => {
    serveThroughLambda(handler, req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
      console.error(err);
    });
  });
}

/** Listens on `port` (0 = any free one) and resolves with the port; a taken port is a clear error. */
export function listen(server: NetServer, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} is already in use (set another with a flag, see --help)`) : err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
