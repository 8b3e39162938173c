/** EventBridge Scheduler and Lambda have no local engine: assert the exact requests sent. */
import { ConflictException, CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { atExpression, AwsKicker, scheduleName } from '../../lib/timers/aws-kicker.js';
import { parseTimerEvent } from '../../lib/timers/timer-event.js';

const scheduler = mockClient(SchedulerClient);
const lambda = mockClient(LambdaClient);
const TIMER_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:restless-timer';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/restless-scheduler';

function kicker() {
  return new AwsKicker({ scheduler: new SchedulerClient({ region: 'eu-west-1' }), lambda: new LambdaClient({ region: 'eu-west-1' }), timerFunctionArn: TIMER_ARN, schedulerRoleArn: ROLE_ARN, groupName: 'restless' });
}

beforeEach(() => {
  scheduler.reset();
  lambda.reset();
});

describe('AwsKicker', () => {
  it('creates a one-time at() schedule in the group, deleted after completion, with a deterministic name and client token', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:x' });
    const due = Date.UTC(2026, 10, 25, 13, 30, 0, 250);
    await kicker().schedule('inv_abc', due, { epoch: 3, kind: 'sleep' });
    const name = scheduleName('inv_abc', 3, 'sleep', due);
    expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 1);
    expect(scheduler).toHaveReceivedCommandWith(CreateScheduleCommand, {
      Name: name,
      GroupName: 'restless',
      ScheduleExpression: 'at(2026-11-25T13:30:01)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      ClientToken: name,
      Target: {
        Arn: TIMER_ARN,
        RoleArn: ROLE_ARN,
        Input: JSON.stringify({ kind: 'timer', invocationId: 'inv_abc', epoch: 3, reason: 'sleep', dueMs: due }),
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
      },
    });
    expect(name).toMatch(/^rl-sleep-[0-9a-f]{16}$/);
    expect(scheduleName('inv_abc', 3, 'sleep', due)).toBe(name);
    expect(scheduleName('inv_abc', 4, 'sleep', due)).not.toBe(name);
  });

  it('treats a schedule that already exists (a retried request) as done', async () => {
    scheduler.on(CreateScheduleCommand).rejects(new ConflictException({ message: 'exists', $metadata: {}, ResourceId: 'x', ResourceType: 'schedule' } as never));
    await expect(kicker().schedule('inv_abc', Date.now() + 60_000, { epoch: 1, kind: 'retry' })).resolves.toBeUndefined();
  });

  it('kicks with an asynchronous (Event) invoke of the timer function', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    await kicker().kick('inv_xyz');
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: TIMER_ARN, InvocationType: 'Event' });
    const payload = lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as Uint8Array;
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ kind: 'kick', invocationId: 'inv_xyz' });
  });

  it('rounds at() up to the next whole second (never early)', () => {
    expect(atExpression(Date.UTC(2026, 0, 1, 0, 0, 0, 0))).toBe('at(2026-01-01T00:00:00)');
    expect(atExpression(Date.UTC(2026, 0, 1, 0, 0, 0, 1))).toBe('at(2026-01-01T00:00:01)');
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
