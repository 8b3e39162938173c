/**
 * Wraps a neutral HttpHandler as an API Gateway (payload 2.0) Lambda handler. The request's
 * AbortSignal fires shortly before the Lambda would time out, so the core can answer in time.
 */
import type { Context } from 'aws-lambda';
import { requestFromEvent, resultFromResponse, type ApiGatewayEvent, type ApiGatewayResult } from './apigw.js';
import type { HttpHandler } from './types.js';

/** What the handler needs of the Lambda context (the local runner passes a small stand-in). */
export type LambdaContextLike = Pick<Context, 'awsRequestId'> & Partial<Pick<Context, 'getRemainingTimeInMillis'>>;

export function apiGatewayHandler(handler: HttpHandler | (() => HttpHandler)) {
  const resolve = (): HttpHandler => (handler.length === 0 ? (handler as () => HttpHandler)() : (handler as HttpHandler));
  return async (event: ApiGatewayEvent, context?: LambdaContextLike): Promise<ApiGatewayResult> => {
    const remaining = context?.getRemainingTimeInMillis?.();
    const signal = remaining !== undefined ? AbortSignal.timeout(Math.max(0, remaining - 500)) : undefined;
    return resultFromResponse(await resolve()(requestFromEvent(event, signal)));
  };
}
