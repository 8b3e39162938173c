/**
 * Waking invocations on AWS: an immediate kick is an asynchronous (Event) invoke of the timer
 * function; a later one is an EventBridge Scheduler one-time schedule targeting it. Scheduler
 * delivers at least once, and the timer handler ignores stale or duplicate deliveries.
 */
import { CreateScheduleCommand, ConflictException, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { createHash } from 'node:crypto';
import type { Kicker } from '../driver/driver.js';
import type { TimerEvent } from './timer-event.js';

export interface AwsKickerOptions {
  scheduler: SchedulerClient;
  lambda: LambdaClient;
  timerFunctionArn: string;
  schedulerRoleArn: string;
  groupName: string;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the next second (Scheduler's granularity). */
export function atExpression(ms: number): string {
  const d = new Date(Math.ceil(ms / 1000) * 1000);
  return `at(${d.toISOString().slice(0, 19)})`;
}

/** Deterministic schedule name: the same wake-up requested twice creates one schedule. */
export function scheduleName(id: string, epoch: number, kind: string, atMs: number): string {
  const digest = createHash('sha256').update(`${id}|${epoch}|${kind}|${atMs}`).digest('hex').slice(0, 16);
  return `rl-${kind}-${digest}`.slice(0, 64);
}

export class AwsKicker implements Kicker {
  constructor(private readonly opts: AwsKickerOptions) {}

  async kick(id: string): Promise<void> {
    const event: TimerEvent = { kind: 'kick', invocationId: id };
    await this.opts.lambda.send(new InvokeCommand({ FunctionName: this.opts.timerFunctionArn, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(event)) }));
  }

  async schedule(id: string, atMs: number, reason: { epoch: number; kind: 'retry' | 'sleep' | 'deadline' }): Promise<void> {
    const name = scheduleName(id, reason.epoch, reason.kind, atMs);
    const event: TimerEvent = { kind: 'timer', invocationId: id, epoch: reason.epoch, reason: reason.kind, dueMs: atMs };
    try {
      await this.opts.scheduler.send(
        new CreateScheduleCommand({
          Name: name,
          GroupName: this.opts.groupName,
          ScheduleExpression: atExpression(atMs),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          ClientToken: name,
          Target: { Arn: this.opts.timerFunctionArn, RoleArn: this.opts.schedulerRoleArn, Input: JSON.stringify(event), RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 } },
        }),
      );
    } catch (err) {
      // The same wake-up was already scheduled (a retried write): nothing to do.
      if (err instanceof ConflictException) return;
      throw err;
    }
  }
}
