import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, it } from 'vitest';
import type { Template } from 'aws-cdk-lib/assertions';
import { functionId, synth } from './support.js';

describe('Restless sweep', () => {
  let template: Template;
  beforeAll(() => {
    template = synth();
  });

  it('fires the timer function every minute with {"kind":"sweep"}', () => {
    const timer = functionId(template, 'timer');
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [timer, 'Arn'] },
          Input: JSON.stringify({ kind: 'sweep' }),
          // A missed minute is caught by the next one: no long retries.
          RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 1 },
          // What EventBridge still cannot deliver is kept.
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RestlessDeadLetters'), 'Arn'] } },
        }),
      ],
    });
  });

  it('lets EventBridge invoke the timer for that rule only', () => {
    const timer = functionId(template, 'timer');
    const ruleId = Object.keys(template.findResources('AWS::Events::Rule'))[0]!;
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [timer, 'Arn'] },
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
  });
});
