/**
 * The deployment registrar against the real admin code path: the event it builds goes through the
 * admin function's composition (createRuntime + the API Gateway wrapper) over a DynamoDB Local
 * table, and the admin's discovery reaches a real SDK endpoint. One mocked Lambda client serves
 * both hops, by function name: the registrar invoking the admin, and the admin invoking the version.
 */
import { InvokeCommand, LambdaClient, type InvokeCommandInput } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleEndpoint } from '../../examples/example-endpoint.js';
import { deploymentResourceHandler, DeploymentRegistrationError, type DeploymentResourceEvent } from '../../lib/deploy/register-deployment.js';
import { eventFromRequest, responseFromResult, type ApiGatewayEvent } from '../../lib/http/apigw.js';
import { apiGatewayHandler } from '../../lib/http/lambda.js';
import { silentLogger } from '../../lib/log.js';
import { createRuntime, type Runtime } from '../../lib/runtime.js';
import { ensureTable } from '../../lib/store/table.js';
import { freshTable, localDynamoConfig } from '../support/ddb.js';
import { testConfig } from '../support/runtime.js';

const ADMIN = 'Restless-RestlessAdmin-abc';
const FUNCTION = 'arn:aws:lambda:us-east-1:123456789012:function:greeter';
const V7 = `${FUNCTION}:7`;
const V8 = `${FUNCTION}:8`;
const idOf = (arn: string) => Buffer.from(arn).toString('base64url');
/** What examples/example-endpoint.ts serves. */
const SERVICES = 'counter,greeter,org.example.Greeter,sleeper';
const greeter = (d: { services: { name: string; revision: number; latest: boolean }[] }) => d.services.find((s) => s.name === 'org.example.Greeter');

describe('deployment registrar → the real admin handler', () => {
  const lambda = mockClient(LambdaClient);
  const adminEvents: ApiGatewayEvent[] = [];
  const discovered: string[] = [];
  let runtime: Runtime;
  let admin: ReturnType<typeof apiGatewayHandler>;

  beforeAll(async () => {
    const { tableName } = await freshTable('deploy');
    const sdk = exampleEndpoint().lambdaHandler();
    lambda.on(InvokeCommand).callsFake(async (input: InvokeCommandInput) => {
      const payload = JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8')) as Record<string, unknown>;
      if (input.FunctionName === ADMIN) {
        adminEvents.push(payload as unknown as ApiGatewayEvent);
        return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(await admin(payload as unknown as ApiGatewayEvent, { awsRequestId: 'admin' }))) };
      }
      discovered.push(input.FunctionName!);
      return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(await sdk(payload, { awsRequestId: 'endpoint' }))) };
    });
    runtime = createRuntime({
      config: testConfig({ tableName }),
      dynamo: localDynamoConfig(),
      lambda: new LambdaClient({ region: 'us-east-1' }),
      timers: 'local',
      log: silentLogger,
    });
    await ensureTable(runtime.tables.client, tableName);
    admin = apiGatewayHandler(runtime.admin);
  });
  afterAll(() => {
    runtime.localTimers?.stop();
    lambda.restore();
  });

  const onEvent = deploymentResourceHandler({ lambda: new LambdaClient({ region: 'us-east-1' }), adminFunctionName: ADMIN, retryDelaysMs: [] });
  const event = (
    RequestType: DeploymentResourceEvent['RequestType'],
    props: { Arn: string; AssumeRoleArn?: string },
    PhysicalResourceId?: string,
  ): DeploymentResourceEvent => ({
    RequestType,
    RequestId: `req-${RequestType}`,
    LogicalResourceId: 'RestlessDeploymentGreeter',
    ...(PhysicalResourceId === undefined ? {} : { PhysicalResourceId }),
    ResourceProperties: props,
  });
  const deployments = async () => {
    const res = responseFromResult(
      await admin(eventFromRequest({ method: 'GET', url: '/deployments', headers: {}, body: new Uint8Array() }), { awsRequestId: 'list' }),
    );
    // Listed under `endpoints` on both routes (the 0.5 shape).
    return (
      JSON.parse(Buffer.from(res.body).toString('utf8')) as {
        endpoints: { id: string; arn: string; services: { name: string; revision: number; latest: boolean }[] }[];
      }
    ).endpoints;
  };

  it('Create registers the published version: the admin accepts the event and discovers the version', async () => {
    const result = await onEvent(event('Create', { Arn: V7 }));

    expect(result).toEqual({ PhysicalResourceId: idOf(V7), Data: { DeploymentId: idOf(V7), Services: SERVICES } });
    expect(discovered).toEqual([V7]);
    const all = await deployments();
    expect(all).toEqual([expect.objectContaining({ id: idOf(V7), arn: V7 })]);
    expect(greeter(all[0]!)).toEqual({ name: 'org.example.Greeter', revision: 1, latest: true });
  });

  it('the same version again succeeds without changing anything (the admin answers 409 META0004, read back)', async () => {
    const result = await onEvent(event('Update', { Arn: V7 }, idOf(V7)));

    expect(result).toEqual({ PhysicalResourceId: idOf(V7), Data: { DeploymentId: idOf(V7), Services: SERVICES } });
    const all = await deployments();
    expect(all).toHaveLength(1);
    expect(greeter(all[0]!)).toEqual({ name: 'org.example.Greeter', revision: 1, latest: true });
  });

  it('Update to a new version registers it as a new deployment; Delete of the old one leaves it registered', async () => {
    const result = await onEvent(event('Update', { Arn: V8 }, idOf(V7)));
    expect(result.PhysicalResourceId).toBe(idOf(V8));
    // What CloudFormation sends next for the replaced physical resource.
    await onEvent(event('Delete', { Arn: V7 }, idOf(V7)));

    const all = await deployments();
    expect(all.map((d) => d.arn).sort()).toEqual([V7, V8]);
    expect(greeter(all.find((d) => d.arn === V8)!)).toEqual({ name: 'org.example.Greeter', revision: 2, latest: true });
    expect(greeter(all.find((d) => d.arn === V7)!)).toEqual({ name: 'org.example.Greeter', revision: 1, latest: false });
  });

  it("a refusal of the real admin fails with the admin's message", async () => {
    const err = await onEvent(event('Create', { Arn: `${FUNCTION}:9`, AssumeRoleArn: 'not-an-arn' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeploymentRegistrationError);
    expect((err as Error).message).toBe(`The Restless admin API refused to register ${FUNCTION}:9: HTTP 400: Invalid assume_role_arn 'not-an-arn'`);
  });

  it('every event the admin got was the POST /deployments or GET /deployments/{id} the registrar builds', () => {
    expect(adminEvents.map((e) => `${e.requestContext.http.method} ${e.rawPath} (${e.routeKey})`)).toEqual([
      'POST /deployments (ANY /deployments)',
      'POST /deployments (ANY /deployments)',
      `GET /deployments/${idOf(V7)} (ANY /deployments/{proxy+})`,
      'POST /deployments (ANY /deployments)',
      'POST /deployments (ANY /deployments)',
    ]);
  });
});
