/**
 * The cdk-nag (AwsSolutions) findings Restless keeps on purpose, each with its reason. They are
 * recorded with CDK's own `Validations.acknowledge` (what cdk-nag v3 reads), so the construct
 * needs no cdk-nag at run time and a user's nag run shows what was accepted and why.
 * test/construct/nag.test.ts runs the pack over the stack and fails on anything not listed here.
 */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The finding id cdk-nag gives a wildcard resource in an IAM policy. */
export function wildcardResource(resource: string): string {
  return `AwsSolutions-IAM5[Resource::${resource}]`;
}

export const NAG = {
  xray: {
    id: wildcardResource('*'),
    reason: 'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions (active tracing adds exactly these two actions).',
  },
  schedules: (groupName: string) => ({
    id: wildcardResource(`arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${groupName}/*`),
    reason: 'One-time schedules are named per wake-up at run time; the grant is confined to the Restless schedule group and to CreateSchedule.',
  }),
  endpointVersions: (arn: string) => ({
    id: wildcardResource(`${arn}:*`),
    reason: 'Versions and aliases of a Lambda endpoint the operator listed in endpointFunctionArns (the registered deployment is a published version).',
  }),
  anyFunction: (arn: string) => ({
    id: wildcardResource(arn),
    reason: 'The operator opted in with allowInvokeAnyFunctionInAccount (development only; synth warns about it).',
  }),
  registrarVersions: (arn: string) => ({
    id: wildcardResource(`${arn}:*`),
    reason: 'The CDK provider framework grants its function invoke on the registrar function and its versions (Provider adds this statement itself).',
  }),
  runtime: {
    id: 'AwsSolutions-L1',
    reason: 'nodejs22.x is the runtime this code is built (target node22) and tested for; a newer runtime is a deliberate upgrade, not something to float to.',
  },
  publicIngress: {
    id: 'AwsSolutions-APIG4',
    reason:
      'The ingress is public by design (anonymous service callers, as with Restate); ingressAuthorization puts it behind IAM or JWT. Stage throttling bounds abuse; the admin routes always require IAM.',
  },
} as const;

/** How cdk-nag prints a resolved ARN in a finding id: a literal as is, `Fn::GetAtt` as `<Id.Attr>`. */
export function nagName(resolved: unknown): string {
  if (typeof resolved === 'string') return resolved;
  const getAtt = (resolved as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  return getAtt ? `<${getAtt[0]}.${getAtt[1]}>` : JSON.stringify(resolved);
}

export function acknowledge(scope: IConstruct, finding: { id: string; reason: string }): void {
  Validations.of(scope).acknowledge(finding);
}
