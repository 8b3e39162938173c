/** Timer Lambda: EventBridge Scheduler timers, async kicks and the periodic sweep → drive(). */
import middy from '@middy/core';
import { sharedRuntime } from '../lib/runtime.js';
import { timerLambdaHandler } from '../lib/timers/timer-lambda.js';

const runtime = sharedRuntime();

export const handler = middy().handler(timerLambdaHandler(runtime.timer));
