/** Timer Lambda: SQS batches from the timer queue (kicks, wake-ups, Scheduler hand-overs) and the periodic sweep → drive(). */
import middy from '@middy/core';
import { schedulerSdk, sqsSdk } from '../lib/lazy-sdk.js';
import { flushLogsAfterEachInvocation } from '../lib/lambda-logs.js';
import { sharedRuntime } from '../lib/runtime.js';
import { timerLambdaHandler } from '../lib/timers/timer-lambda.js';
import { enableLambdaTracing, withLambdaTrace } from '../lib/tracing/lambda-tracing.js';

enableLambdaTracing();
const runtime = sharedRuntime();
// Most batches kick or schedule something: load those clients during init, not in the first event.
await Promise.all([sqsSdk(), schedulerSdk()]);

export const handler = middy()
  .use(flushLogsAfterEachInvocation())
  .handler(withLambdaTrace(timerLambdaHandler(runtime.timer, runtime.log)));
