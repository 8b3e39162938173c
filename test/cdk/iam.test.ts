import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_ITEM_ACTIONS } from '../../lib/construct/restless.js';
import { actionsOf, functionId, resourcesOf, roleOfFunction, statementsOfRole, synth, synthStack } from './support.js';
import type { Resource, Statement } from './support.js';

const ROLES = ['ingress', 'admin', 'timer'] as const;
type Role = (typeof ROLES)[number];

describe('Restless IAM', () => {
  let template: Template;
  let statements: Record<Role, Statement[]>;
  beforeAll(() => {
    template = synth();
    statements = Object.fromEntries(ROLES.map((r) => [r, statementsOfRole(template, roleOfFunction(template, functionId(template, r)))])) as Record<Role, Statement[]>;
  });

  const withAction = (role: Role, action: string) => statements[role].filter((s) => actionsOf(s).includes(action));
  const tableId = () => Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;
  const groupName = () => (Object.values(template.findResources('AWS::Scheduler::ScheduleGroup'))[0] as Resource).Properties?.['Name'] as string;

  it('never grants a wildcard action or a bare * resource', () => {
    const all = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[]).flatMap(
      (p) => (p.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement,
    );
    expect(all.length).toBeGreaterThan(0);
    for (const s of all) {
      expect(s.Effect).toBe('Allow');
      for (const a of actionsOf(s)) expect(a).not.toContain('*');
      for (const r of resourcesOf(s)) expect(r).not.toBe('*');
    }
  });

  it.each(ROLES.map((role) => ({ case: role, role })))('lets $case read and write table items, on the table and its index only', ({ role }) => {
    const table = statements[role].filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(table).toHaveLength(1);
    expect([...actionsOf(table[0]!)].sort()).toEqual([...TABLE_ITEM_ACTIONS].sort());
    expect(resourcesOf(table[0]!)).toEqual([
      { 'Fn::GetAtt': [tableId(), 'Arn'] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId(), 'Arn'] }, '/index/*']] },
    ]);
  });

  it.each([
    { case: 'ingress', role: 'ingress' as const },
    { case: 'timer', role: 'timer' as const },
  ])('lets $case create and delete schedules in the group only', ({ role }) => {
    const s = statements[role].filter((st) => actionsOf(st).some((a) => a.startsWith('scheduler:')));
    expect(s).toHaveLength(1);
    expect(actionsOf(s[0]!)).toEqual(['scheduler:CreateSchedule', 'scheduler:DeleteSchedule']);
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

  it.each([
    { case: 'ingress', role: 'ingress' as const },
    { case: 'admin', role: 'admin' as const },
  ])('lets $case kick the timer function, and no other function by default', ({ role }) => {
    const timer = functionId(template, 'timer');
    expect(withAction(role, 'lambda:InvokeFunction').map(resourcesOf)).toEqual([
      [{ 'Fn::GetAtt': [timer, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [timer, 'Arn'] }, ':*']] }],
    ]);
  });

  it('lets the timer kick itself through its spelled-out ARN, and no other function by default', () => {
    const invoke = withAction('timer', 'lambda:InvokeFunction');
    expect(invoke).toHaveLength(1);
    expect(JSON.stringify(invoke[0]!.Resource)).toMatch(/:function:[A-Za-z0-9-]+-timer"/);
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

