import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Template } from 'aws-cdk-lib/assertions';
import { TIMER_MAX_RECEIVE_COUNT } from '../../lib/construct/timer-plumbing.js';
import { actionsOf, functionId, roleOfFunction, statementsOfRole, synth } from './support.js';
import type { Resource } from './support.js';

describe('Restless timer queue', () => {
  let template: Template;
  let queueId: string;
  let dlqId: string;
  beforeAll(() => {
    template = synth();
    const queues = Object.keys(template.findResources('AWS::SQS::Queue'));
    queueId = queues.find((q) => q.startsWith('RestlessTimerQueue'))!;
    dlqId = queues.find((q) => q.startsWith('RestlessDeadLetters'))!;
  });
  const props = (id: string) => (template.toJSON()['Resources'][id] as Resource).Properties ?? {};

  it('is one standard queue (per-message delays need one) plus one dead-letter queue', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    expect(props(queueId)['FifoQueue']).toBeUndefined();
  });

  it('moves a message the timer function failed five times to the dead-letter queue', () => {
    expect(TIMER_MAX_RECEIVE_COUNT).toBe(5);
    expect(props(queueId)['RedrivePolicy']).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 });
  });

  it('hides a message in flight for six times the timer timeout (90 min)', () => {
    expect(props(queueId)['VisibilityTimeout']).toBe(6 * 900);
  });

  it('keeps dead letters for the SQS maximum of 14 days', () => {
    expect(props(dlqId)['MessageRetentionPeriod']).toBe(14 * 24 * 3600);
  });

  it.each([
    { case: 'timer queue', which: () => queueId },
    { case: 'dead-letter queue', which: () => dlqId },
  ])('encrypts the $case at rest and refuses plain HTTP', ({ which }) => {
    expect(props(which())['SqsManagedSseEnabled']).toBe(true);
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as Resource[];
    const mine = policies.filter((p) => JSON.stringify(p.Properties?.['Queues']).includes(which()));
    const statements = mine.flatMap((p) => (p.Properties?.['PolicyDocument'] as { Statement: { Effect: string; Condition?: unknown }[] }).Statement);
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it('feeds the timer function in batches of 10 and reads back partial batch failures', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: functionId(template, 'timer') },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });

  it('lets the timer function consume the queue', () => {
    const consume = statementsOfRole(template, roleOfFunction(template, functionId(template, 'timer'))).filter((s) =>
      actionsOf(s).includes('sqs:ReceiveMessage'),
    );
    expect(consume).toHaveLength(1);
    expect(actionsOf(consume[0]!)).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']));
    expect(consume[0]!.Resource).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
  });

  it('allows the timer function a recursive loop (it sends to the queue that invokes it); the others keep the default', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Description: 'Restless timer', RecursiveLoop: 'Allow' });
    for (const role of ['ingress', 'admin'])
      template.hasResourceProperties('AWS::Lambda::Function', { Description: `Restless ${role}`, RecursiveLoop: Match.absent() });
  });

  it('sends failed asynchronous (sweep) invocations of the timer to the dead-letter queue after one retry', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId(template, 'timer') },
      MaximumRetryAttempts: 1,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlqId, 'Arn'] } } },
    });
  });

  it('lets EventBridge put undeliverable sweeps into the dead-letter queue, for the sweep rule only', () => {
    const ruleId = Object.keys(template.findResources('AWS::Events::Rule'))[0]!;
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlqId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
          }),
        ]),
      },
    });
  });
});
