/** Ingress Lambda: API Gateway HTTP API (payload 2.0) → the Connect/gRPC-web ingress core. */
import middy from '@middy/core';
import type { ApiGatewayEvent, ApiGatewayResult } from '../lib/http/apigw.js';
import { API_GATEWAY_MIDDY_OPTIONS, apiGatewayHandler } from '../lib/http/lambda.js';
import { flushLogsAfterEachInvocation } from '../lib/lambda-logs.js';
import { sharedRuntime } from '../lib/runtime.js';
import { enableLambdaTracing, withLambdaTrace } from '../lib/tracing/lambda-tracing.js';

enableLambdaTracing();
const runtime = sharedRuntime();

export const handler = middy<ApiGatewayEvent, ApiGatewayResult>(API_GATEWAY_MIDDY_OPTIONS)
  .use(flushLogsAfterEachInvocation())
  .handler(withLambdaTrace(apiGatewayHandler(runtime.ingress)));
