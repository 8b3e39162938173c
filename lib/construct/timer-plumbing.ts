/**
 * How wake-ups reach the timer function, and where the ones that cannot be delivered end:
 *
 * ```
 *  ingress/admin/timer ─ SendMessage (DelaySeconds 0…900) ─▶ TimerQueue ─ event source mapping ─▶ timer λ
 *  Scheduler group ─ at(…) schedules (scheduler role) ─────▶ TimerQueue    (batches of 10, partial failures)
 *  EventBridge rule rate(1 minute) {"kind":"sweep"} ─────────────────────────────────────────────▶ timer λ
 *
 *  DeadLetters ◀─ TimerQueue after 5 receives · Scheduler after 24 h of retries ·
 *               sweep rule delivery failures · failed asynchronous (sweep) invocations of the timer
 * ```
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** A message the timer function failed this often goes to the dead-letter queue. */
export const TIMER_MAX_RECEIVE_COUNT = 5;

export interface TimerPlumbing {
  timerQueue: Queue;
  deadLetterQueue: Queue;
  scheduleGroup: ScheduleGroup;
  /** Assumed by EventBridge Scheduler to send due schedules to the timer queue. */
  schedulerRole: Role;
}

/**
 * The queues, the schedule group and the scheduler role. `timerTimeout` sizes the visibility
 * timeout: six times the function timeout (the Lambda guide's advice for SQS sources), so a
 * batch that waits for a throttled function is not handed out twice. A failed message then
 * comes back only after that long; it is a hint, and the sweep re-drives the invocation from
 * the table within a minute anyway.
 */
export function createTimerPlumbing(scope: Construct, timerTimeout: Duration): TimerPlumbing {
  const stack = Stack.of(scope);
  const deadLetterQueue = new Queue(scope, 'DeadLetters', {
    retentionPeriod: Duration.days(14),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const timerQueue = new Queue(scope, 'TimerQueue', {
    visibilityTimeout: Duration.seconds(timerTimeout.toSeconds() * 6),
    retentionPeriod: Duration.days(4),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: TIMER_MAX_RECEIVE_COUNT },
    removalPolicy: RemovalPolicy.DESTROY,
  });

  // Its schedules only ever target this construct's queue, which goes with the stack; so does the
  // group (the invocations themselves stay in the retained table).
  const scheduleGroup = new ScheduleGroup(scope, 'Timers', { removalPolicy: RemovalPolicy.DESTROY });
  const schedulerRole = new Role(scope, 'SchedulerRole', {
    description: 'Assumed by EventBridge Scheduler to send Restless wake-ups to the timer queue',
    // Confused-deputy guard (Scheduler user guide): only schedules of this group may use the role.
    assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': scheduleGroup.scheduleGroupArn } },
    }),
  });
  // The target, and the dead-letter queue for what it cannot deliver.
  schedulerRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [timerQueue.queueArn, deadLetterQueue.queueArn] }));
  return { timerQueue, deadLetterQueue, scheduleGroup, schedulerRole };
}

/**
 * Re-drives invocations whose lease expired (a Lambda that died mid-attempt) and whatever else
 * the due index says is overdue. A missed minute is caught by the next one, hence the short event
 * age and single retry; what still fails is kept in the dead-letter queue.
 */
export function createSweepRule(scope: Construct, timer: IFunction, deadLetterQueue: Queue): Rule {
  return new Rule(scope, 'Sweep', {
    description: 'Restless sweep: re-drive expired leases and overdue timers',
    schedule: Schedule.rate(Duration.minutes(1)),
    targets: [
      new LambdaFunction(timer, {
        event: RuleTargetInput.fromObject({ kind: 'sweep' }),
        maxEventAge: Duration.minutes(1),
        retryAttempts: 1,
        deadLetterQueue,
      }),
    ],
  });
}
