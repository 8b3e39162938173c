/** SQS and EventBridge Scheduler have no local engine here: assert the exact requests sent. */
import { ConflictException, CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { atExpression, AwsKicker, scheduleName } from '../../lib/timers/aws-kicker.js';
import { parseTimerEvent } from '../../lib/timers/timer-event.js';
import { QUEUE_MAX_DELAY_S, routeTimer, SCHEDULER_HORIZON_MS, SCHEDULER_LEAD_MS } from '../../lib/timers/timer-routes.js';
import { MAX_DUE_AT } from '../../lib/store/invocation-item.js';
import { createTimerHandler } from '../../lib/timers/timer-handler.js';
import { createLogger } from '../../lib/log.js';
import type { Driver } from '../../lib/driver/driver.js';
import type { InvocationStore } from '../../lib/store/invocation-store.js';

const scheduler = mockClient(SchedulerClient);
const sqs = mockClient(SQSClient);
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/restless-timers';
const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:restless-timers';
const DLQ_ARN = 'arn:aws:sqs:eu-west-1:123456789012:restless-dead-letters';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/restless-scheduler';
/** A frozen clock: 2026-11-25T13:00:00.000Z. */
const NOW = Date.UTC(2026, 10, 25, 13, 0, 0, 0);

function kicker(now: () => number = () => NOW) {
  return new AwsKicker({
    sqs: new SQSClient({ region: 'eu-west-1' }),
    scheduler: new SchedulerClient({ region: 'eu-west-1' }),
    queueUrl: QUEUE_URL,
    queueArn: QUEUE_ARN,
    deadLetterQueueArn: DLQ_ARN,
    schedulerRoleArn: ROLE_ARN,
    groupName: 'restless',
    now,
  });
}

beforeEach(() => {
  scheduler.reset();
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:x' });
});

describe('AwsKicker', () => {
  it('kicks with a message on the timer queue, without delay (no asynchronous Lambda invoke)', async () => {
    await kicker().kick('inv_xyz');
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: QUEUE_URL,
      MessageBody: JSON.stringify({ kind: 'kick', invocationId: 'inv_xyz' }),
      DelaySeconds: 0,
    });
    expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 0);
  });

  it.each([
    { case: 'a 50 ms retry backoff', inMs: 50, delay: 1 },
    { case: 'a 3 s sleep', inMs: 3_000, delay: 3 },
    { case: 'a 3.2 s sleep (rounded up, never early)', inMs: 3_200, delay: 4 },
    { case: 'a 10 s retry backoff', inMs: 10_000, delay: 10 },
    { case: 'exactly 15 minutes', inMs: 900_000, delay: 900 },
    { case: 'a time already past', inMs: -5_000, delay: 0 },
  ])('sends $case to the queue with DelaySeconds $delay', async ({ inMs, delay }) => {
    await kicker().schedule('inv_abc', NOW + inMs, { epoch: 3, kind: inMs === 3_000 || inMs === 3_200 ? 'sleep' : 'retry' });
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input).toEqual({ QueueUrl: QUEUE_URL, MessageBody: expect.any(String), DelaySeconds: delay });
    expect(JSON.parse(input.MessageBody!)).toEqual({
      kind: 'timer',
      invocationId: 'inv_abc',
      epoch: 3,
      reason: inMs === 3_000 || inMs === 3_200 ? 'sleep' : 'retry',
      dueMs: NOW + inMs,
    });
    expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 0);
  });

  it('schedules a wake-up beyond 15 minutes one minute ahead of its minute, targeting the queue, with a dead-letter queue', async () => {
    const due = NOW + 40 * 60_000 + 30_250; // 13:40:30.250
    await kicker().schedule('inv_abc', due, { epoch: 3, kind: 'sleep' });
    const name = scheduleName('inv_abc', 3, 'sleep', due);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 0);
    expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 1);
    expect(scheduler).toHaveReceivedCommandWith(CreateScheduleCommand, {
      Name: name,
      GroupName: 'restless',
      // Fires somewhere in 13:39:00–13:39:59: always before 13:40:30; the queue takes the rest.
      ScheduleExpression: 'at(2026-11-25T13:39:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      ClientToken: name,
      Target: {
        Arn: QUEUE_ARN,
        RoleArn: ROLE_ARN,
        Input: JSON.stringify({ kind: 'timer', invocationId: 'inv_abc', epoch: 3, reason: 'sleep', dueMs: due }),
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        DeadLetterConfig: { Arn: DLQ_ARN },
      },
    });
    expect(name).toMatch(/^rl-sleep-[0-9a-f]{16}$/);
    expect(scheduleName('inv_abc', 3, 'sleep', due)).toBe(name);
    expect(scheduleName('inv_abc', 4, 'sleep', due)).not.toBe(name);
  });

  it('puts an attempt deadline on the Scheduler when a schedule can still fire before it', async () => {
    const due = NOW + 5 * 60_000; // 13:05:00
    await kicker().schedule('inv_abc', due, { epoch: 7, kind: 'deadline' });
    expect(scheduler).toHaveReceivedCommandWith(CreateScheduleCommand, {
      ScheduleExpression: 'at(2026-11-25T13:04:00)',
      Target: expect.objectContaining({ Arn: QUEUE_ARN }),
    });
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 0);
  });

  it('sends a deadline too close for a schedule to the queue', async () => {
    await kicker().schedule('inv_abc', NOW + 90_000, { epoch: 7, kind: 'deadline' }); // 13:01:30 → at(13:00:00) is not ahead
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, { DelaySeconds: 90 });
    expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 0);
  });

  it('treats a schedule that already exists (a retried request) as done', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: 'exists', $metadata: {}, ResourceId: 'x', ResourceType: 'schedule' } as never));
    await expect(kicker().schedule('inv_abc', NOW + 3_600_000, { epoch: 1, kind: 'retry' })).resolves.toBeUndefined();
  });

  it('fails loudly when the queue refuses the message (the caller logs it; the sweep recovers)', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('AccessDenied'));
    await expect(kicker().kick('inv_a')).rejects.toThrow('AccessDenied');
  });

  it('rounds at() up to the next whole second (never early)', () => {
    expect(atExpression(Date.UTC(2026, 0, 1, 0, 0, 0, 0))).toBe('at(2026-01-01T00:00:00)');
    expect(atExpression(Date.UTC(2026, 0, 1, 0, 0, 0, 1))).toBe('at(2026-01-01T00:00:01)');
  });
});

describe('routeTimer', () => {
  it('never lets a schedule fire after the due time, whatever the second within the minute', () => {
    for (let s = 0; s < 60; s++) {
      const due = NOW + 20 * 60_000 + s * 1000 + 999;
      const route = routeTimer(due, NOW, 'sleep');
      expect(route.via).toBe('scheduler');
      // Scheduler may fire anywhere in the minute it names: the latest is at + 59.999 s.
      if (route.via === 'scheduler') expect(route.atMs + 59_999).toBeLessThan(due);
      if (route.via === 'scheduler') expect(due - route.atMs).toBeLessThanOrEqual(2 * SCHEDULER_LEAD_MS);
    }
  });

  it('keeps every queue delay within SQS limits', () => {
    for (const inMs of [0, 1, 999, 1000, 899_999, 900_000]) {
      const route = routeTimer(NOW + inMs, NOW, 'retry');
      expect(route.via).toBe('queue');
      if (route.via === 'queue') expect(route.delaySeconds).toBeGreaterThanOrEqual(0);
      if (route.via === 'queue') expect(route.delaySeconds).toBeLessThanOrEqual(QUEUE_MAX_DELAY_S);
    }
    expect(routeTimer(NOW + 900_001, NOW, 'retry').via).toBe('scheduler');
  });
});

describe('wake-ups beyond the Scheduler horizon', () => {
  const AT = /^at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\)$/;
  const event = (dueMs: number) => ({ kind: 'timer' as const, invocationId: 'inv_far', epoch: 4, reason: 'sleep' as const, dueMs });

  it('sets a wake-up at MAX_DUE_AT (year ~33658) at the horizon, whole day, carrying the real due time', async () => {
    await kicker().schedule('inv_far', MAX_DUE_AT, { epoch: 4, kind: 'sleep' });
    const horizon = Date.UTC(2027, 10, 25); // NOW + 365 days, floored to the day
    expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 1);
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    expect(input.ScheduleExpression).toBe('at(2027-11-25T00:00:00)');
    expect(input.Name).toBe(scheduleName('inv_far', 4, 'sleep', MAX_DUE_AT, horizon));
    expect(input.ClientToken).toBe(input.Name);
    expect(JSON.parse(input.Target!.Input!)).toEqual(event(MAX_DUE_AT));
    expect(input.Target).toMatchObject({ Arn: QUEUE_ARN, DeadLetterConfig: { Arn: DLQ_ARN } });
  });

  it('names the same far wake-up requested twice on one day alike (one schedule), and its next year differently', () => {
    const a = routeTimer(MAX_DUE_AT, NOW, 'sleep');
    const b = routeTimer(MAX_DUE_AT, NOW + 10 * 3_600_000, 'sleep');
    const nextYear = routeTimer(MAX_DUE_AT, NOW + SCHEDULER_HORIZON_MS, 'sleep');
    expect(a).toEqual(b);
    expect(a).toMatchObject({ via: 'scheduler', capped: true });
    expect(nextYear.via === 'scheduler' && a.via === 'scheduler' && nextYear.atMs - a.atMs).toBe(SCHEDULER_HORIZON_MS);
  });

  it.each([
    { case: '16 minutes', inMs: 16 * 60_000 },
    { case: '364 days', inMs: 364 * 86_400_000 },
    { case: '2 years', inMs: 2 * SCHEDULER_HORIZON_MS },
    { case: '9000 years (past at()’s 4-digit years)', inMs: 9000 * SCHEDULER_HORIZON_MS },
    { case: 'MAX_DUE_AT', inMs: MAX_DUE_AT - NOW },
  ])('never schedules beyond the horizon nor after the due time: $case ahead', ({ inMs }) => {
    const route = routeTimer(NOW + inMs, NOW, 'sleep');
    expect(route.via).toBe('scheduler');
    if (route.via !== 'scheduler') return;
    expect(route.atMs).toBeLessThanOrEqual(NOW + SCHEDULER_HORIZON_MS);
    expect(route.atMs + 59_999).toBeLessThan(NOW + inMs);
    expect(atExpression(route.atMs)).toMatch(AT);
    expect(route.capped).toBe(inMs > SCHEDULER_HORIZON_MS);
  });

  it('re-arms a far wake-up when it fires at the horizon, one more year ahead, without driving it', async () => {
    let now = NOW;
    const k = kicker(() => now);
    const driveById = vi.fn();
    const timer = createTimerHandler({
      driver: { driveById } as unknown as Driver,
      store: {} as InvocationStore,
      log: createLogger({ level: 'error' }),
      now: () => now,
      rearm: (id, at, reason) => k.schedule(id, at, reason),
    });

    await k.schedule('inv_far', MAX_DUE_AT, { epoch: 4, kind: 'sleep' });
    now = Date.UTC(2027, 10, 25, 0, 0, 30); // the schedule fires (within its minute)
    expect(await timer(event(MAX_DUE_AT))).toMatchObject({ kind: 'ignored' });

    expect(driveById).not.toHaveBeenCalled();
    const [first, second] = scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input);
    expect(second!.ScheduleExpression).toBe('at(2028-11-24T00:00:00)');
    expect(second!.Name).not.toBe(first!.Name);
    expect(JSON.parse(second!.Target!.Input!)).toEqual(event(MAX_DUE_AT));
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 0);
  });
});

describe('timer events', () => {
  it.each([
    { case: 'kick', raw: { kind: 'kick', invocationId: 'inv_a' }, ok: true },
    { case: 'timer', raw: { kind: 'timer', invocationId: 'inv_a', epoch: 2, reason: 'retry', dueMs: 5 }, ok: true },
    { case: 'sweep', raw: { kind: 'sweep' }, ok: true },
    { case: 'garbage', raw: 'nope', ok: false },
    { case: 'missing id', raw: { kind: 'kick' }, ok: false },
    { case: 'timer without epoch', raw: { kind: 'timer', invocationId: 'inv_a', dueMs: 1 }, ok: false },
  ])('parses $case', ({ raw, ok }) => {
    expect(parseTimerEvent(raw) !== undefined).toBe(ok);
  });
});
