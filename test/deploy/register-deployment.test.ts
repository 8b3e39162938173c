/**
 * The deployment registrar's onEvent (the custom resource of `Restless.registerEndpoint`), with
 * the Lambda client mocked: the exact Invoke it sends the admin function, and what it makes of
 * the admin's answers.
 */
import { InvokeCommand, LambdaClient, type InvokeCommandInput, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiGatewayEvent } from '../../lib/http/apigw.js';
import { deploymentResourceHandler, DeploymentRegistrationError, type DeploymentResourceEvent } from '../../lib/deploy/register-deployment.js';

const ADMIN = 'Restless-RestlessAdmin9D3C3CBF-abc';
const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:greeter:7';
const ID = Buffer.from(ARN).toString('base64url');
const ROLE = 'arn:aws:iam::123456789012:role/caller';

const lambda = mockClient(LambdaClient);
let sleeps: number[];
const onEvent = () =>
  deploymentResourceHandler({
    lambda: new LambdaClient({ region: 'eu-west-1' }),
    adminFunctionName: ADMIN,
    retryDelaysMs: [10, 20],
    sleep: async (ms) => void sleeps.push(ms),
  });

const event = (
  RequestType: DeploymentResourceEvent['RequestType'],
  props: Record<string, string> = {},
  PhysicalResourceId?: string,
): DeploymentResourceEvent => ({
  RequestType,
  RequestId: 'req-1',
  LogicalResourceId: 'RestlessDeploymentGreeter',
  ...(PhysicalResourceId === undefined ? {} : { PhysicalResourceId }),
  ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider', Arn: ARN, ...props },
});

/** An Invoke result's Payload (the SDK types it as its blob adapter; the code under test reads bytes). */
const payload = (text: string) => Buffer.from(text) as unknown as NonNullable<InvokeCommandOutput['Payload']>;

/** What the admin function (its API Gateway wrapper) returns: the body base64, as resultFromResponse does. */
const answer = (statusCode: number, body: unknown) => ({
  StatusCode: 200,
  Payload: payload(
    JSON.stringify({
      statusCode,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(body)).toString('base64'),
      isBase64Encoded: true,
    }),
  ),
});

const sentEvents = (): ApiGatewayEvent[] =>
  lambda
    .commandCalls(InvokeCommand)
    .map((c) => JSON.parse(Buffer.from((c.args[0].input as InvokeCommandInput).Payload as Uint8Array).toString('utf8')) as ApiGatewayEvent);

const bodyOf = (e: ApiGatewayEvent) => JSON.parse(e.isBase64Encoded ? Buffer.from(e.body!, 'base64').toString('utf8') : e.body!) as unknown;

const SERVICES = [{ name: 'org.example.Greeter', methods: [], instance_type: 'Unkeyed', endpoint_id: ID, revision: 1, public: true }];

beforeEach(() => {
  lambda.reset();
  sleeps = [];
});
afterEach(() => lambda.reset());

describe('deployment registrar', () => {
  it('Create invokes the admin function with the API Gateway event of POST /deployments {"arn"} and answers the deployment id', async () => {
    lambda.on(InvokeCommand).resolves(answer(201, { id: ID, services: SERVICES }));

    const result = await onEvent()(event('Create'));

    expect(result).toEqual({ PhysicalResourceId: ID, Data: { DeploymentId: ID, Services: 'org.example.Greeter' } });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    const input = lambda.commandCalls(InvokeCommand)[0]!.args[0].input as InvokeCommandInput;
    expect(input.FunctionName).toBe(ADMIN);
    expect(input.InvocationType).toBeUndefined(); // RequestResponse: the answer decides
    const sent = sentEvents()[0]!;
    expect(sent).toMatchObject({
      version: '2.0',
      routeKey: 'ANY /deployments',
      rawPath: '/deployments',
      rawQueryString: '',
      headers: { 'content-type': 'application/json' },
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/deployments' }, routeKey: 'ANY /deployments', requestId: 'req-1', stage: '$default' },
    });
    expect(bodyOf(sent)).toEqual({ arn: ARN });
  });

  it('sends assume_role_arn and force when the resource has them (CloudFormation passes strings)', async () => {
    lambda.on(InvokeCommand).resolves(answer(201, { id: ID, services: SERVICES }));
    await onEvent()(event('Create', { AssumeRoleArn: ROLE, Force: 'true' }));
    expect(bodyOf(sentEvents()[0]!)).toEqual({ arn: ARN, assume_role_arn: ROLE, force: true });
  });

  it('Update registers the new version ARN as a new physical resource (CloudFormation then deletes the old one)', async () => {
    const next = 'arn:aws:lambda:eu-west-1:123456789012:function:greeter:8';
    const nextId = Buffer.from(next).toString('base64url');
    lambda.on(InvokeCommand).resolves(answer(201, { id: nextId, services: SERVICES }));
    const result = await onEvent()({ ...event('Update', { Arn: next }, ID) });
    expect(result.PhysicalResourceId).toBe(nextId);
    expect(bodyOf(sentEvents()[0]!)).toEqual({ arn: next });
  });

  it('a 409 incompatible change fails with the admin message', async () => {
    const message = 'Incompatible change: method \'org.example.Greeter/Greet\' changes its input type from A to B. Register with "force": true to allow it';
    lambda.on(InvokeCommand).resolves(answer(409, { message, restate_code: 'META0006' }));

    const err = await onEvent()(event('Create')).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DeploymentRegistrationError);
    expect((err as DeploymentRegistrationError).message).toBe(`The Restless admin API refused to register ${ARN}: HTTP 409 META0006: ${message}`);
    expect((err as DeploymentRegistrationError).status).toBe(409);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1); // not retried
  });

  it('a 400 (an invalid ARN) fails at once', async () => {
    lambda.on(InvokeCommand).resolves(answer(400, { message: "Invalid Lambda ARN 'x'", restate_code: null }));
    await expect(onEvent()(event('Create', { Arn: 'x' }))).rejects.toThrow("The Restless admin API refused to register x: HTTP 400: Invalid Lambda ARN 'x'");
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('the same ARN again (409 META0004) is success: the registered deployment is read back', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce(answer(409, { message: `Deployment '${ID}' is already registered at this address.`, restate_code: 'META0004' }))
      .resolvesOnce(answer(200, { id: ID, arn: ARN, services: [{ name: 'org.example.Greeter', revision: 1, latest: true }] }));

    const result = await onEvent()(event('Update', {}, ID));

    expect(result).toEqual({ PhysicalResourceId: ID, Data: { DeploymentId: ID, Services: 'org.example.Greeter' } });
    const get = sentEvents()[1]!;
    expect(get).toMatchObject({ routeKey: 'ANY /deployments/{proxy+}', rawPath: `/deployments/${ID}`, requestContext: { http: { method: 'GET' } } });
    expect(get.body).toBeUndefined();
  });

  it('the same ARN registered with another assume_role_arn is not taken for success', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce(answer(409, { message: 'already registered', restate_code: 'META0004' }))
      .resolvesOnce(answer(200, { id: ID, arn: ARN, assume_role_arn: 'arn:aws:iam::123456789012:role/other', services: [] }));
    await expect(onEvent()(event('Create', { AssumeRoleArn: ROLE }))).rejects.toThrow(
      /already registered as deployment .* with assume_role_arn arn:aws:iam::123456789012:role\/other, not arn:aws:iam::123456789012:role\/caller/,
    );
  });

  it('retries a discovery failure (META0003: IAM may not have propagated the invoke grant yet) and a 5xx, then succeeds', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce(answer(400, { message: 'Cannot reach arn:… to run discovery: AccessDeniedException', restate_code: 'META0003' }))
      .resolvesOnce(answer(503, { message: 'unavailable', restate_code: null }))
      .resolvesOnce(answer(201, { id: ID, services: SERVICES }));
    await expect(onEvent()(event('Create'))).resolves.toMatchObject({ PhysicalResourceId: ID });
    expect(sleeps).toEqual([10, 20]);
  });

  it('gives up after the last retry with the last message', async () => {
    lambda.on(InvokeCommand).resolves(answer(400, { message: 'Cannot reach arn:… to run discovery: AccessDeniedException', restate_code: 'META0003' }));
    await expect(onEvent()(event('Create'))).rejects.toThrow('HTTP 400 META0003: Cannot reach arn:… to run discovery: AccessDeniedException');
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 3);
  });

  it('a failed admin function (FunctionError) is retried, then reported', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: payload('{"errorMessage":"boom"}') });
    await expect(onEvent()(event('Create'))).rejects.toThrow(`The admin function ${ADMIN} failed (Unhandled): {"errorMessage":"boom"}`);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 3);
  });

  it('an answer that is no API Gateway result is not taken for success', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload('"ok"') });
    await expect(onEvent()(event('Create'))).rejects.toThrow(`The admin function ${ADMIN} answered no API Gateway result: "ok"`);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 3); // retried like a failed function
  });

  it('Delete does nothing: the deployment stays registered (invocations may be pinned to it)', async () => {
    const result = await onEvent()(event('Delete', {}, ID));
    expect(result).toEqual({ PhysicalResourceId: ID });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('refuses a Force that is not a boolean before asking anyone', async () => {
    await expect(onEvent()(event('Create', { Force: 'yes' }))).rejects.toThrow("Invalid Force 'yes': use true or false");
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });
});
