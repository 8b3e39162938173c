/** Admin Lambda: the IAM-protected admin routes of the HTTP API → the admin API core. */
import middy from '@middy/core';
import type { ApiGatewayEvent, ApiGatewayResult } from '../lib/http/apigw.js';
import { API_GATEWAY_MIDDY_OPTIONS, apiGatewayHandler } from '../lib/http/lambda.js';
import { sharedRuntime } from '../lib/runtime.js';

const runtime = sharedRuntime();

export const handler = middy<ApiGatewayEvent, ApiGatewayResult>(API_GATEWAY_MIDDY_OPTIONS).handler(apiGatewayHandler(runtime.admin));
