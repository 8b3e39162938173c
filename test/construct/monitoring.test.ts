import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import { LOG_METRICS, METRIC_NAMESPACE } from '../../lib/construct/monitoring.js';
import { Restless } from '../../lib/construct/restless.js';
import { functionId, STUB_ENTRY, synth } from './support.js';
import type { Resource } from './support.js';

const ROLES = ['ingress', 'admin', 'timer'] as const;

describe('Restless alarms', () => {
  let template: Template;
  let alarms: Resource[];
  beforeAll(() => {
    template = synth();
    alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
  });
  const alarmOn = (metricName: string, dimension: unknown) =>
    alarms.filter((a) => a.Properties?.['MetricName'] === metricName && JSON.stringify(a.Properties?.['Dimensions']).includes(JSON.stringify(dimension)));

  it('fires on a single message in the dead-letter queue', () => {
    const dlq = Object.keys(template.findResources('AWS::SQS::Queue')).find((q) => q.startsWith('RestlessDeadLetters'))!;
    const found = alarmOn('ApproximateNumberOfMessagesVisible', { 'Fn::GetAtt': [dlq, 'QueueName'] });
    expect(found).toHaveLength(1);
    expect(found[0]!.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('fires on any error of the timer function', () => {
    const found = alarmOn('Errors', { Ref: functionId(template, 'timer') });
    expect(found).toHaveLength(1);
    expect(found[0]!.Properties).toMatchObject({ Namespace: 'AWS/Lambda', Threshold: 1, Statistic: 'Sum' });
  });

  it.each(ROLES.map((role) => ({ case: role, role })))('fires on any throttle of the $case function', ({ role }) => {
    expect(alarmOn('Throttles', { Ref: functionId(template, role) })).toHaveLength(1);
  });

  it.each(ROLES.map((role) => ({ case: role, role })))('fires when Lambda drops a recursive invocation of the $case function', ({ role }) => {
    const found = alarmOn('RecursiveInvocationsDropped', { Ref: functionId(template, role) });
    expect(found).toHaveLength(1);
    expect(found[0]!.Properties).toMatchObject({ Namespace: 'AWS/Lambda', Threshold: 1 });
  });

  it('has no actions unless a topic is given', () => {
    for (const a of alarms) expect(a.Properties?.['AlarmActions']).toBeUndefined();
  });

  it('notifies the alarm topic when one is given', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'S');
    const topic = new Topic(stack, 'Ops');
    new Restless(stack, 'Restless', { entries: { ingress: STUB_ENTRY, admin: STUB_ENTRY, timer: STUB_ENTRY }, alarmTopic: topic });
    const t = Template.fromStack(stack);
    const topicId = Object.keys(t.findResources('AWS::SNS::Topic'))[0]!;
    const all = Object.values(t.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    expect(all.length).toBe(alarms.length);
    for (const a of all) expect(a.Properties?.['AlarmActions']).toEqual([{ Ref: topicId }]);
  });
});

describe('Restless metrics and dashboard', () => {
  let template: Template;
  let filters: Resource[];
  beforeAll(() => {
    template = synth();
    filters = Object.values(template.findResources('AWS::Logs::MetricFilter')) as Resource[];
  });
  const transformation = (f: Resource) =>
    (f.Properties?.['MetricTransformations'] as { MetricName: string; MetricNamespace: string; MetricValue: string; Unit?: string }[])[0]!;

  it.each(Object.entries(LOG_METRICS).map(([name, spec]) => ({ case: name, name, patterns: spec.patterns.length })))(
    'derives $case from the JSON log lines of all three functions',
    ({ name, patterns }) => {
      const mine = filters.filter((f) => transformation(f).MetricName === name);
      expect(mine).toHaveLength(3 * patterns);
      const groups = new Set(mine.map((f) => JSON.stringify(f.Properties?.['LogGroupName'])));
      expect(groups.size).toBe(3);
      for (const f of mine) expect(transformation(f).MetricNamespace).toBe(METRIC_NAMESPACE);
    },
  );

  it('counts invocations from the "invocation accepted" line', () => {
    const f = filters.find((x) => transformation(x).MetricName === 'Invocations')!;
    expect(f.Properties?.['FilterPattern']).toBe('{ $.msg = "invocation accepted" }');
    expect(transformation(f).MetricValue).toBe('1');
  });

  it('counts failed completions and exhausted retries as failures', () => {
    const patterns = new Set(filters.filter((x) => transformation(x).MetricName === 'Failures').map((x) => x.Properties?.['FilterPattern']));
    expect([...patterns].sort()).toEqual([
      '{ $.msg = "invocation failed: retries exhausted" }',
      '{ ($.msg = "invocation completed") && ($.outcome = "failure") }',
    ]);
  });

  it('sums lagMs of "timer delivered" lines into TimerLag, in milliseconds', () => {
    const f = filters.find((x) => transformation(x).MetricName === 'TimerLag')!;
    expect(f.Properties?.['FilterPattern']).toBe('{ $.msg = "timer delivered" }');
    expect(transformation(f)).toMatchObject({ MetricValue: '$.lagMs', Unit: 'Milliseconds' });
  });

  it('draws one dashboard with invocations, failures and retries, suspensions, timer lag, the queues and the functions', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify((Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0] as Resource).Properties?.['DashboardBody']);
    for (const title of ['Invocations', 'Failures and retries', 'Suspensions', 'Timer lag', 'Timer queue', 'Function errors', 'Function throttles'])
      expect(body).toContain(title);
    for (const metric of ['Invocations', 'Completions', 'Failures', 'Retries', 'Suspensions', 'TimerLag', 'ApproximateNumberOfMessagesDelayed'])
      expect(body).toContain(metric);
  });

  it('outputs the dashboard name', () => {
    const id = Object.keys(template.findResources('AWS::CloudWatch::Dashboard'))[0]!;
    expect(template.findOutputs('DashboardName')['DashboardName']?.['Value']).toEqual({ Ref: id });
  });

  it('uses the JSON log line shape the runtime writes (msg, outcome, lagMs)', () => {
    template.allResourcesProperties('AWS::Logs::MetricFilter', { FilterPattern: Match.stringLikeRegexp('\\$\\.msg = ') });
  });
});
