/**
 * Wraps a neutral HttpHandler as an API Gateway (payload 2.0) Lambda handler, run under middy.
 * The request's signal is aborted LAMBDA_ABORT_EARLY_MS before the Lambda would time out, so the
 * core can hand its attempt on and answer; should it not answer within LAMBDA_ANSWER_GRACE_MS,
 * middy's early timeout answers 504 in its place (never a Lambda timeout error).
 */
import type { Context } from 'aws-lambda';
import { requestFromEvent, resultFromResponse, type ApiGatewayEvent, type ApiGatewayResult } from './apigw.js';
import type { HttpHandler } from './types.js';

/** What the handler needs of the Lambda context (the local runner passes a small stand-in). */
export type LambdaContextLike = Pick<Context, 'awsRequestId'> & Partial<Pick<Context, 'getRemainingTimeInMillis'>>;

/** The signal fires this long before the Lambda's timeout. */
export const LAMBDA_ABORT_EARLY_MS = 2000;
/** Time the core has, once aborted, to answer before middy answers in its place. */
export const LAMBDA_ANSWER_GRACE_MS = 1000;

/** middy options of the API Gateway functions: abort early, answer 504 if the core could not. */
export const API_GATEWAY_MIDDY_OPTIONS = {
  timeoutEarlyInMillis: LAMBDA_ABORT_EARLY_MS,
  timeoutEarlyResponse: (): Promise<ApiGatewayResult> =>
    new Promise((resolve) =>
      setTimeout(
        () =>
          resolve({
            statusCode: 504,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ code: 'deadline_exceeded', message: 'the function ran out of time before it could answer' }),
          }),
        LAMBDA_ANSWER_GRACE_MS,
      ),
    ),
};

export function apiGatewayHandler(handler: HttpHandler | (() => HttpHandler)) {
  const resolve = (): HttpHandler => (handler.length === 0 ? (handler as () => HttpHandler)() : (handler as HttpHandler));
  // Each request gets a signal of its own, aborted LAMBDA_ABORT_EARLY_MS before its time is up.
  // Not middy's: middy shares one AbortController between all requests of a process, so where one
  // process serves many at once (the local runner), one request's timeout would abort them all.
  return async (event: ApiGatewayEvent, context?: LambdaContextLike): Promise<ApiGatewayResult> => {
    const remaining = context?.getRemainingTimeInMillis?.();
    if (remaining === undefined) return resultFromResponse(await resolve()(requestFromEvent(event)));
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(new Error('the function is about to time out')), Math.max(0, remaining - LAMBDA_ABORT_EARLY_MS));
    try {
      return resultFromResponse(await resolve()(requestFromEvent(event, stop.signal)));
    } finally {
      clearTimeout(timer);
    }
  };
}
