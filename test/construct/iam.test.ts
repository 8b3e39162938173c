import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_ITEM_ACTIONS } from '../../lib/construct/restless.js';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { actionsOf, functionId, resourcesOf, roleOfFunction, STUB_ENTRY, statementsOfRole, synth, synthStack } from './support.js';
import type { Resource, Statement } from './support.js';

const ROLES = ['ingress', 'admin', 'timer'] as const;
type Role = (typeof ROLES)[number];

describe('Restless IAM', () => {
  let template: Template;
  let statements: Record<Role, Statement[]>;
  beforeAll(() => {
    template = synth();
    statements = Object.fromEntries(ROLES.map((r) => [r, statementsOfRole(template, roleOfFunction(template, functionId(template, r)))])) as Record<
      Role,
      Statement[]
    >;
  });

  const withAction = (role: Role, action: string) => statements[role].filter((s) => actionsOf(s).includes(action));
  const tableId = () => Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;
  const groupName = () => (Object.values(template.findResources('AWS::Scheduler::ScheduleGroup'))[0] as Resource).Properties?.['Name'] as string;

  const allStatements = () =>
    (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[]).flatMap(
      (p) => (p.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement,
    );
  const isXray = (s: Statement) => actionsOf(s).every((a) => a.startsWith('xray:'));

  it('never grants a wildcard action or a bare * resource, except X-Ray (which has no resource-level permissions)', () => {
    const all = allStatements();
    expect(all.length).toBeGreaterThan(0);
    for (const s of all) {
      expect(s.Effect).toBe('Allow');
      for (const a of actionsOf(s)) expect(a).not.toContain('*');
      if (isXray(s)) expect([...actionsOf(s)].sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      else for (const r of resourcesOf(s)) expect(r).not.toBe('*');
    }
  });

  it('gives each function a role of its own without AWS managed policies', () => {
    const roles = ROLES.map((r) => roleOfFunction(template, functionId(template, r)));
    expect(new Set(roles).size).toBe(3);
    for (const id of roles) expect((template.toJSON()['Resources'][id] as Resource).Properties?.['ManagedPolicyArns']).toBeUndefined();
  });

  it.each(ROLES.map((role) => ({ case: role, role })))('lets $case write its own log group only', ({ role }) => {
    const logs = statements[role].filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
    expect(logs).toHaveLength(1);
    expect(actionsOf(logs[0]!)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    const cap = role.charAt(0).toUpperCase() + role.slice(1);
    expect(logs[0]!.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^Restless${cap}Logs`)), 'Arn'] });
  });

  it.each(ROLES.map((role) => ({ case: role, role })))(
    'lets $case read and write table items (no Scan), on the table and its two indexes by name',
    ({ role }) => {
      const table = statements[role].filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect(table).toHaveLength(1);
      expect([...actionsOf(table[0]!)].sort()).toEqual([...TABLE_ITEM_ACTIONS].sort());
      expect(actionsOf(table[0]!)).not.toContain('dynamodb:Scan');
      expect(resourcesOf(table[0]!)).toEqual([
        { 'Fn::GetAtt': [tableId(), 'Arn'] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId(), 'Arn'] }, '/index/due']] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId(), 'Arn'] }, '/index/pinned']] },
      ]);
    },
  );

  it.each([
    { case: 'ingress', role: 'ingress' as const },
    { case: 'timer', role: 'timer' as const },
  ])('lets $case create schedules in the group only (they delete themselves)', ({ role }) => {
    const s = statements[role].filter((st) => actionsOf(st).some((a) => a.startsWith('scheduler:')));
    expect(s).toHaveLength(1);
    expect(actionsOf(s[0]!)).toEqual(['scheduler:CreateSchedule']);
    expect(JSON.stringify(s[0]!.Resource)).toContain(`:schedule/${groupName()}/*`);
  });

  it('does not let the admin function touch schedules', () => {
    expect(statements.admin.flatMap(actionsOf).filter((a) => a.startsWith('scheduler:'))).toEqual([]);
    expect(withAction('admin', 'iam:PassRole')).toEqual([]);
  });

  it.each([
    { case: 'ingress', role: 'ingress' as const },
    { case: 'timer', role: 'timer' as const },
  ])('lets $case pass the scheduler role, to Scheduler only', ({ role }) => {
    const schedulerRole = Object.keys(template.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('Scheduler') } }))[0]!;
    expect(withAction(role, 'iam:PassRole')).toEqual([
      {
        Action: 'iam:PassRole',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [schedulerRole, 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      },
    ]);
  });

  it.each(ROLES.map((role) => ({ case: role, role })))('lets $case kick through the timer queue, and invoke no function by default', ({ role }) => {
    const queue = Object.keys(template.findResources('AWS::SQS::Queue')).find((id) => id.startsWith('RestlessTimerQueue'))!;
    expect(
      withAction(role, 'sqs:SendMessage')
        .filter((s) => JSON.stringify(s.Resource).includes(queue))
        .map((s) => [actionsOf(s), s.Resource]),
    ).toEqual([[['sqs:SendMessage'], { 'Fn::GetAtt': [queue, 'Arn'] }]]);
    expect(withAction(role, 'lambda:InvokeFunction')).toEqual([]);
  });

  it('grants no sts:AssumeRole by default', () => {
    for (const role of ROLES) expect(withAction(role, 'sts:AssumeRole')).toEqual([]);
  });

  it('grants invoke on the registered endpoint functions (and their versions) to all three functions', () => {
    const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:greeter';
    const t = synth({ endpointFunctionArns: [arn] });
    for (const role of ROLES) {
      const s = statementsOfRole(t, roleOfFunction(t, functionId(t, role))).filter((st) => JSON.stringify(st.Resource).includes('greeter'));
      expect(s).toEqual([{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [arn, `${arn}:*`] }]);
    }
  });

  it('grants invoke on a function of the same app and its versions to all three functions with allowEndpoint', () => {
    const stack = synthStack();
    const greeter = new NodejsFunction(stack, 'Greeter', { entry: STUB_ENTRY, runtime: Runtime.NODEJS_22_X });
    stack.restless.allowEndpoint(greeter);
    const t = Template.fromStack(stack);
    const greeterId = Object.keys(t.findResources('AWS::Lambda::Function', { Properties: { Description: Match.absent() } }))[0]!;
    const arn = { 'Fn::GetAtt': [greeterId, 'Arn'] };
    for (const role of ROLES) {
      const s = statementsOfRole(t, roleOfFunction(t, functionId(t, role))).filter((st) => JSON.stringify(st.Resource).includes(greeterId));
      expect(s).toEqual([{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [arn, { 'Fn::Join': ['', [arn, ':*']] }] }]);
    }
  });

  it('grants sts:AssumeRole on the listed endpoint roles', () => {
    const roleArn = 'arn:aws:iam::123456789012:role/restate-invoker';
    const t = synth({ endpointAssumeRoleArns: [roleArn] });
    for (const role of ROLES) {
      const s = statementsOfRole(t, roleOfFunction(t, functionId(t, role))).filter((st) => actionsOf(st).includes('sts:AssumeRole'));
      expect(s).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Resource: roleArn }]);
    }
  });

  it('grants invoke on every function of the account and region, with a warning, only when asked', () => {
    const stack = synthStack({ allowInvokeAnyFunctionInAccount: true });
    const t = Template.fromStack(stack);
    const invoke = statementsOfRole(t, roleOfFunction(t, functionId(t, 'ingress'))).filter((st) => JSON.stringify(st.Resource).includes(':function:*'));
    expect(invoke).toHaveLength(1);
    Annotations.fromStack(stack).hasWarning('/Restless/Restless', Match.stringLikeRegexp('allowInvokeAnyFunctionInAccount'));
  });
});
