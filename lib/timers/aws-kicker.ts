/**
 * Waking invocations on AWS. Everything goes through the timer queue (SQS), which the timer
 * function consumes: a kick is a message without delay, a wake-up within 15 minutes a message
 * with `DelaySeconds` (1 s precision). Later wake-ups (and attempt deadlines) are EventBridge
 * Scheduler one-time schedules whose target is the same queue; they fire early on purpose and
 * the timer function hands them back to the queue for the last stretch (lib/timers/timer-routes.ts).
 *
 * Nothing here is fire-and-forget: a message the queue accepted is retried until the timer
 * function reports it handled, then lands in the dead-letter queue. Deliveries are at least
 * once; the timer handler ignores stale and duplicate ones.
 */
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import type { Kicker } from '../driver/driver.js';
import { schedulerSdk, sqsSdk } from '../lazy-sdk.js';
import type { TimerEvent } from './timer-event.js';
import { routeTimer } from './timer-routes.js';

export interface AwsKickerOptions {
  /** Default: a client built at the first kick (the SDK package loads then, not at a cold start). */
  sqs?: SQSClient;
  /** Default: a client built at the first schedule. */
  scheduler?: SchedulerClient;
  /** The timer queue: its URL for SendMessage, its ARN as the schedules' target. */
  queueUrl: string;
  queueArn: string;
  /** Where Scheduler puts an event it could not deliver to the queue. */
  deadLetterQueueArn: string;
  schedulerRoleArn: string;
  groupName: string;
  now?: () => number;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the next second (Scheduler's granularity). */
export function atExpression(ms: number): string {
  const d = new Date(Math.ceil(ms / 1000) * 1000);
  return `at(${d.toISOString().slice(0, 19)})`;
}

/**
 * Deterministic schedule name: the same wake-up requested twice creates one schedule. A wake-up
 * set at the horizon (`firesAtMs`) is named after that too, so its re-arming a year later is a
 * schedule of its own, not a conflict with the one that just fired.
 */
export function scheduleName(id: string, epoch: number, kind: string, atMs: number, firesAtMs?: number): string {
  const key = firesAtMs === undefined ? `${id}|${epoch}|${kind}|${atMs}` : `${id}|${epoch}|${kind}|${atMs}|${firesAtMs}`;
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return `rl-${kind}-${digest}`.slice(0, 64);
}

/** Scheduler's maximum: retry for 24 h, then the dead-letter queue. */
const SCHEDULE_RETRY_POLICY = { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 };

export class AwsKicker implements Kicker {
  private readonly now: () => number;
  private sqs: SQSClient | undefined;
  private scheduler: SchedulerClient | undefined;

  constructor(private readonly opts: AwsKickerOptions) {
    this.now = opts.now ?? Date.now;
    this.sqs = opts.sqs;
    this.scheduler = opts.scheduler;
  }

  async kick(id: string): Promise<void> {
    await this.send({ kind: 'kick', invocationId: id }, 0);
  }

  async schedule(id: string, atMs: number, reason: { epoch: number; kind: 'retry' | 'sleep' | 'deadline' }): Promise<void> {
    const event: TimerEvent = { kind: 'timer', invocationId: id, epoch: reason.epoch, reason: reason.kind, dueMs: atMs };
    const route = routeTimer(atMs, this.now(), reason.kind);
    if (route.via === 'queue') return this.send(event, route.delaySeconds);
    const name = scheduleName(id, reason.epoch, reason.kind, atMs, route.capped ? route.atMs : undefined);
    const sdk = await schedulerSdk();
    const scheduler = (this.scheduler ??= new sdk.SchedulerClient({}));
    try {
      await scheduler.send(
        new sdk.CreateScheduleCommand({
          Name: name,
          GroupName: this.opts.groupName,
          ScheduleExpression: atExpression(route.atMs),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          ClientToken: name,
          Target: {
            Arn: this.opts.queueArn,
            RoleArn: this.opts.schedulerRoleArn,
            Input: JSON.stringify(event),
            RetryPolicy: SCHEDULE_RETRY_POLICY,
            DeadLetterConfig: { Arn: this.opts.deadLetterQueueArn },
          },
        }),
      );
    } catch (err) {
      // The same wake-up was already scheduled (a retried write): nothing to do.
      if (err instanceof sdk.ConflictException) return;
      throw err;
    }
  }

  private async send(event: TimerEvent, delaySeconds: number): Promise<void> {
    const sdk = await sqsSdk();
    const sqs = (this.sqs ??= new sdk.SQSClient({}));
    await sqs.send(new sdk.SendMessageCommand({ QueueUrl: this.opts.queueUrl, MessageBody: JSON.stringify(event), DelaySeconds: delaySeconds }));
  }
}
