/** `Restless.registerEndpoint`: the custom resource, its provider, and what each may do. */
import { existsSync } from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Function as LambdaFunction, Runtime, Version } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_FUNCTION_NAME_ENV, DEPLOYMENT_RESOURCE_TYPE } from '../../lib/deploy/deployment-resource.js';
import { REGISTRAR_ENTRY } from '../../lib/construct/registration.js';
import { RestlessPropsError } from '../../lib/construct/restless.js';
import { actionsOf, functionId, roleOfFunction, STUB_ENTRY, statementsOfRole, synth, synthStack } from './support.js';
import type { Resource } from './support.js';

const ROLES = ['ingress', 'admin', 'timer'] as const;

/** The stack with a Greeter function of the same app, registered as given. */
function withGreeter(register: (stack: ReturnType<typeof synthStack>, greeter: NodejsFunction) => void) {
  const stack = synthStack();
  const greeter = new NodejsFunction(stack, 'Greeter', { entry: STUB_ENTRY, runtime: Runtime.NODEJS_22_X });
  register(stack, greeter);
  return { stack, greeter, template: Template.fromStack(stack) };
}

const only = (t: Template, type: string, props?: Record<string, unknown>): [string, Resource] => {
  const found = Object.entries(t.findResources(type, props === undefined ? undefined : { Properties: props })) as [string, Resource][];
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
};
const registrarId = (t: Template) => only(t, 'AWS::Lambda::Function', { Description: 'Restless deployment registrar (custom resource)' })[0];
const greeterId = (t: Template) => Object.keys(t.findResources('AWS::Lambda::Function', { Properties: { Description: Match.absent() } }))[0]!;

describe('Restless.registerEndpoint', () => {
  let template: Template;
  beforeAll(() => {
    template = withGreeter((stack, greeter) => stack.restless.registerEndpoint(greeter)).template;
  });

  it('adds nothing to a stack that registers nothing', () => {
    const t = synth();
    expect(t.findResources(DEPLOYMENT_RESOURCE_TYPE)).toEqual({});
    t.resourceCountIs('AWS::Lambda::Function', 3);
  });

  it("declares a Custom::RestlessDeployment of the function's current version, served by the provider", () => {
    const [versionId, version] = only(template, 'AWS::Lambda::Version');
    expect(version.Properties).toEqual({ FunctionName: { Ref: greeterId(template) } });
    const [, resource] = only(template, DEPLOYMENT_RESOURCE_TYPE);
    const [frameworkId, framework] = only(template, 'AWS::Lambda::Function', { Handler: 'framework.onEvent' });
    expect(resource.Properties).toEqual({ ServiceToken: { 'Fn::GetAtt': [frameworkId, 'Arn'] }, Arn: { Ref: versionId } });
    expect((framework.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables).toEqual({
      USER_ON_EVENT_FUNCTION_ARN: { 'Fn::GetAtt': [registrarId(template), 'Arn'] },
    });
  });

  it("waits for the admin role's policy (discovery needs the invoke grant on the endpoint)", () => {
    const [, resource] = only(template, DEPLOYMENT_RESOURCE_TYPE);
    const adminRole = roleOfFunction(template, functionId(template, 'admin'));
    expect(resource.DependsOn).toEqual(expect.arrayContaining([adminRole, expect.stringMatching(/^RestlessAdminRoleDefaultPolicy/)]));
  });

  it('bundles functions/register-deployment.ts on nodejs22.x, arm64, and names the admin function in its environment', () => {
    expect(existsSync(REGISTRAR_ENTRY)).toBe(true);
    expect(REGISTRAR_ENTRY).toMatch(/functions\/register-deployment\.ts$/);
    const fn = template.toJSON()['Resources'][registrarId(template)] as Resource;
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler', Timeout: 300 });
    expect((fn.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      [ADMIN_FUNCTION_NAME_ENV]: { Ref: functionId(template, 'admin') },
    });
  });

  it('lets the registrar invoke the admin function and nothing else (and write its own logs)', () => {
    const role = roleOfFunction(template, registrarId(template));
    const statements = statementsOfRole(template, role);
    expect(statements).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^RestlessDeploymentRegistrarLogs/), 'Arn'] },
      },
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [functionId(template, 'admin'), 'Arn'] } },
    ]);
    expect((template.toJSON()['Resources'][role] as Resource).Properties?.['ManagedPolicyArns']).toBeUndefined();
  });

  it("lets the provider framework call the registrar only, with a role and log group of the construct's (no managed policy)", () => {
    const [frameworkId] = only(template, 'AWS::Lambda::Function', { Handler: 'framework.onEvent' });
    const role = roleOfFunction(template, frameworkId);
    expect((template.toJSON()['Resources'][role] as Resource).Properties?.['ManagedPolicyArns']).toBeUndefined();
    const lambdaStatements = statementsOfRole(template, role).filter((s) => actionsOf(s).some((a) => a.startsWith('lambda:')));
    const registrarArn = { 'Fn::GetAtt': [registrarId(template), 'Arn'] };
    expect(lambdaStatements).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [registrarArn, { 'Fn::Join': ['', [registrarArn, ':*']] }] },
      { Action: 'lambda:GetFunction', Effect: 'Allow', Resource: registrarArn },
    ]);
  });

  it('grants the three functions invoke on the endpoint and its versions, as allowEndpoint does', () => {
    const arn = { 'Fn::GetAtt': [greeterId(template), 'Arn'] };
    for (const role of ROLES) {
      const s = statementsOfRole(template, roleOfFunction(template, functionId(template, role))).filter((st) =>
        JSON.stringify(st.Resource).includes(greeterId(template)),
      );
      expect(s).toEqual([{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [arn, { 'Fn::Join': ['', [arn, ':*']] }] }]);
    }
  });

  it('passes assumeRoleArn and force as resource properties', () => {
    const role = 'arn:aws:iam::123456789012:role/caller';
    const { template: t } = withGreeter((stack, greeter) => stack.restless.registerEndpoint(greeter, { assumeRoleArn: role, force: true }));
    expect(only(t, DEPLOYMENT_RESOURCE_TYPE)[1].Properties).toMatchObject({ AssumeRoleArn: role, Force: true });
  });

  it('registers a Version as given, and shares one provider between registrations', () => {
    const { template: t } = withGreeter((stack, greeter) => {
      const v1 = new Version(stack, 'GreeterV1', { lambda: greeter });
      const other = new NodejsFunction(stack, 'Other', { entry: STUB_ENTRY, runtime: Runtime.NODEJS_22_X });
      stack.restless.registerEndpoint(v1);
      stack.restless.registerEndpoint(other);
    });
    const resources = Object.values(t.findResources(DEPLOYMENT_RESOURCE_TYPE)) as Resource[];
    expect(resources).toHaveLength(2);
    expect(resources.map((r) => r.Properties?.['Arn'])).toEqual(
      expect.arrayContaining([{ Ref: expect.stringMatching(/^GreeterV1/) }, { Ref: expect.stringMatching(/^OtherCurrentVersion/) }]),
    );
    registrarId(t); // exactly one
    only(t, 'AWS::Lambda::Function', { Handler: 'framework.onEvent' });
  });

  it('exposes the deployment id as an attribute', () => {
    const stack = synthStack();
    const greeter = new NodejsFunction(stack, 'Greeter', { entry: STUB_ENTRY, runtime: Runtime.NODEJS_22_X });
    const resource = stack.restless.registerEndpoint(greeter);
    expect(stack.resolve(resource.getAttString('DeploymentId'))).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^RestlessDeployment/), 'DeploymentId'] });
  });

  it.each([
    {
      case: 'an imported function (no published version this app controls)',
      endpoint: (s: ReturnType<typeof synthStack>) => LambdaFunction.fromFunctionArn(s, 'Imported', 'arn:aws:lambda:eu-west-1:123456789012:function:greeter'),
      message: /cannot find a published version/,
    },
    {
      case: '$LATEST',
      endpoint: (s: ReturnType<typeof synthStack>) => new NodejsFunction(s, 'Latest', { entry: STUB_ENTRY, runtime: Runtime.NODEJS_22_X }).latestVersion,
      message: /not \$LATEST/,
    },
  ])('refuses $case', ({ endpoint, message }) => {
    const stack = synthStack();
    let error: unknown;
    try {
      stack.restless.registerEndpoint(endpoint(stack));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RestlessPropsError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses the same function twice', () => {
    expect(() =>
      withGreeter((stack, greeter) => {
        stack.restless.registerEndpoint(greeter);
        stack.restless.registerEndpoint(greeter.currentVersion);
      }),
    ).toThrow(/is registered already/);
  });
});
