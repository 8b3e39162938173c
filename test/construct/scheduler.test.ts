import { beforeAll, describe, expect, it } from 'vitest';
import type { Template } from 'aws-cdk-lib/assertions';
import { actionsOf, resourcesOf, statementsOfRole, synth } from './support.js';
import type { Resource } from './support.js';

describe('Restless scheduler wiring', () => {
  let template: Template;
  let groupId: string;
  let roleId: string;
  beforeAll(() => {
    template = synth();
    groupId = Object.keys(template.findResources('AWS::Scheduler::ScheduleGroup'))[0]!;
    roleId = Object.keys(
      template.findResources('AWS::IAM::Role', {
        Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'scheduler.amazonaws.com' } }] } },
      }),
    )[0]!;
  });

  it('creates one schedule group and passes its name to the functions', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    const name = (template.toJSON()['Resources'][groupId] as Resource).Properties?.['Name'];
    expect(name).toEqual(expect.any(String));
    template.allResourcesProperties('AWS::Lambda::Function', { Environment: { Variables: { RESTLESS_SCHEDULER_GROUP: name } } });
  });

  it('deletes the group (and its pending schedules) with the stack', () => {
    template.hasResource('AWS::Scheduler::ScheduleGroup', { DeletionPolicy: 'Delete' });
  });

  it('has a role only EventBridge Scheduler, for this account and group, may assume', () => {
    const role = template.toJSON()['Resources'][roleId] as Resource;
    expect(role.Properties?.['AssumeRolePolicyDocument']).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' }, 'aws:SourceArn': { 'Fn::GetAtt': [groupId, 'Arn'] } },
          },
        },
      ],
    });
  });

  it('lets the scheduler role send to the timer queue and the dead-letter queue, and nothing else', () => {
    const queues = Object.keys(template.findResources('AWS::SQS::Queue'));
    const timerQueue = queues.find((q) => q.startsWith('RestlessTimerQueue'))!;
    const deadLetters = queues.find((q) => q.startsWith('RestlessDeadLetters'))!;
    const statements = statementsOfRole(template, roleId);
    expect(statements).toHaveLength(1);
    expect(actionsOf(statements[0]!)).toEqual(['sqs:SendMessage']);
    expect(resourcesOf(statements[0]!)).toEqual([{ 'Fn::GetAtt': [timerQueue, 'Arn'] }, { 'Fn::GetAtt': [deadLetters, 'Arn'] }]);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    expect((template.toJSON()['Resources'][roleId] as Resource).Properties?.['ManagedPolicyArns']).toBeUndefined();
  });
});
