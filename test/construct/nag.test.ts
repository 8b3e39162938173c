/** cdk-nag's AwsSolutions pack over the synthesized stack: nothing may remain but what lib/construct/nag.ts acknowledges, with its reason. */
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import type { RestlessProps } from '../../lib/construct/restless.js';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { STUB_ENTRY, synthStack } from './support.js';

function findings(props: RestlessProps = {}, extend?: (stack: ReturnType<typeof synthStack>) => void): string[] {
  const stack = synthStack(props);
  extend?.(stack);
  const report = new AwsSolutionsChecks(stack.node.root).validateScope(stack);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`));
}

describe('cdk-nag AwsSolutions', () => {
  it.each([
    { case: 'the default stack', props: {} },
    { case: 'an ingress behind IAM', props: { ingressAuthorization: { kind: 'iam' } } },
    { case: 'an ingress behind JWT', props: { ingressAuthorization: { kind: 'jwt', issuer: 'https://issuer.example.com', audience: ['a'] } } },
    {
      case: 'listed endpoint functions and roles',
      props: {
        endpointFunctionArns: ['arn:aws:lambda:eu-west-1:123456789012:function:greeter'],
        endpointAssumeRoleArns: ['arn:aws:iam::123456789012:role/invoker'],
      },
    },
    { case: 'any function of the account (opted in)', props: { allowInvokeAnyFunctionInAccount: true } },
    { case: 'reserved concurrency', props: { reservedConcurrency: { ingress: 10, admin: 2, timer: 5 } } },
  ] satisfies { case: string; props: RestlessProps }[])('finds nothing unacknowledged in $case', ({ props }) => {
    expect(findings(props)).toEqual([]);
  });

  it('finds nothing unacknowledged when an endpoint function of the same app is allowed with allowEndpoint', () => {
    const found = findings({}, (stack) => {
      const greeter = new NodejsFunction(stack, 'Greeter', { entry: STUB_ENTRY, runtime: Runtime.NODEJS_22_X });
      stack.restless.allowEndpoint(greeter);
    });
    // The endpoint function itself is the user's: only findings on Restless resources count here.
    expect(found.filter((f) => !f.includes('/Greeter'))).toEqual([]);
  });

  it('finds nothing unacknowledged when endpoints are registered at deploy time with registerEndpoint (the provider and its registrar)', () => {
    const found = findings({}, (stack) => {
      const greeter = new NodejsFunction(stack, 'Greeter', { entry: STUB_ENTRY, runtime: Runtime.NODEJS_22_X });
      stack.restless.registerEndpoint(greeter, { assumeRoleArn: 'arn:aws:iam::123456789012:role/invoker' });
      const other = new NodejsFunction(stack, 'Other', { entry: STUB_ENTRY, runtime: Runtime.NODEJS_22_X });
      stack.restless.registerEndpoint(other.currentVersion);
    });
    expect(found.filter((f) => !f.includes('/Greeter') && !f.includes('/Other'))).toEqual([]);
  });

  it('does find what is not acknowledged (self-check: a public route without the acknowledgment)', async () => {
    const { Validations } = await import('aws-cdk-lib');
    const stack = synthStack();
    const ack = Validations.prototype.acknowledge;
    // Drop every acknowledgment made from now on, then build the same stack again.
    Validations.prototype.acknowledge = () => undefined;
    try {
      const bare = synthStack();
      const report = new AwsSolutionsChecks(bare.node.root).validateScope(bare);
      expect(report.violations.map((v) => v.ruleName)).toEqual(
        expect.arrayContaining(['AwsSolutions-APIG4', 'AwsSolutions-L1', 'AwsSolutions-IAM5[Resource::*]']),
      );
    } finally {
      Validations.prototype.acknowledge = ack;
    }
    expect(new AwsSolutionsChecks(stack.node.root).validateScope(stack).violations).toEqual([]);
  });
});
