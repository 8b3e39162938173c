/** The API Gateway functions under middy: the early-timeout signal reaches the core, and a core that does not answer gets a 504 in its place. */
import middy from '@middy/core';
import { describe, expect, it } from 'vitest';
import type { ApiGatewayEvent, ApiGatewayResult } from '../../lib/http/apigw.js';
import { API_GATEWAY_MIDDY_OPTIONS, apiGatewayHandler, LAMBDA_ABORT_EARLY_MS, LAMBDA_ANSWER_GRACE_MS } from '../../lib/http/lambda.js';
import { emptyResponse, jsonResponse, type HttpRequest, type HttpResponse } from '../../lib/http/types.js';

const event = {
  version: '2.0',
  rawPath: '/x/y',
  rawQueryString: '',
  headers: {},
  requestContext: { http: { method: 'POST', path: '/x/y' }, timeEpoch: Date.now() },
  isBase64Encoded: false,
} as unknown as ApiGatewayEvent;

function lambda(core: (req: HttpRequest) => Promise<HttpResponse>) {
  return middy<ApiGatewayEvent, ApiGatewayResult>(API_GATEWAY_MIDDY_OPTIONS).handler(apiGatewayHandler(core));
}

const body = (r: ApiGatewayResult): unknown => JSON.parse(r.isBase64Encoded ? Buffer.from(r.body!, 'base64').toString('utf8') : r.body!);

const contextWith = (remainingMs: number) => {
  const end = Date.now() + remainingMs;
  return { awsRequestId: 'test', getRemainingTimeInMillis: () => end - Date.now() } as never;
};

describe('API Gateway functions under middy', () => {
  it('abort the request signal LAMBDA_ABORT_EARLY_MS before the timeout, and send the core’s own answer', async () => {
    const started = Date.now();
    let abortedAfter = -1;
    const core = (req: HttpRequest) =>
      new Promise<HttpResponse>((resolve) =>
        req.signal!.addEventListener('abort', () => {
          abortedAfter = Date.now() - started;
          resolve(jsonResponse(504, { code: 'deadline_exceeded', message: 'handed on' }));
        }),
      );
    const result = await lambda(core)(event, contextWith(LAMBDA_ABORT_EARLY_MS + 300));
    expect(abortedAfter).toBeGreaterThanOrEqual(250);
    expect(abortedAfter).toBeLessThan(1000);
    expect(result.statusCode).toBe(504);
    expect(body(result)).toEqual({ code: 'deadline_exceeded', message: 'handed on' });
  });

  it('answer 504 in place of a core that ignores the signal, LAMBDA_ANSWER_GRACE_MS after aborting it', async () => {
    const started = Date.now();
    const result = await lambda((_req) => new Promise<HttpResponse>(() => undefined))(event, contextWith(LAMBDA_ABORT_EARLY_MS + 200));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(200 + LAMBDA_ANSWER_GRACE_MS - 50);
    expect(took).toBeLessThan(LAMBDA_ABORT_EARLY_MS + 200);
    expect(result.statusCode).toBe(504);
    expect(body(result)).toMatchObject({ code: 'deadline_exceeded' });
  });

  it('abort only the request whose time is up, when one process serves several at once (the local runner)', async () => {
    const aborted: string[] = [];
    const core = (req: HttpRequest) =>
      new Promise<HttpResponse>((resolve) => {
        const name = req.path;
        req.signal!.addEventListener('abort', () => {
          aborted.push(name);
          resolve(jsonResponse(504, { code: 'deadline_exceeded', message: 'handed on' }));
        });
        if (name === '/long') setTimeout(() => resolve(emptyResponse(204)), 600);
      });
    const handler = lambda(core);
    const at = (path: string) => ({ ...event, rawPath: path, requestContext: { ...event.requestContext, http: { method: 'POST', path } } }) as ApiGatewayEvent;
    const [short, long] = await Promise.all([handler(at('/short'), contextWith(LAMBDA_ABORT_EARLY_MS + 100)), handler(at('/long'), contextWith(30_000))]);
    expect(short.statusCode).toBe(504);
    expect(long.statusCode).toBe(204);
    expect(aborted).toEqual(['/short']);
  });

  it('leave a quick answer alone', async () => {
    const result = await lambda(async (_req) => emptyResponse(204))(event, contextWith(30_000));
    expect(result.statusCode).toBe(204);
  });
});
