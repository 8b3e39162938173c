/** STS and Lambda Invoke have no local engine here: assert the exact requests sent and the client that sent them. */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { EndpointCredentialsError, TransportError } from '../../lib/endpoint/errors.js';
import {
  assumeRoleCredentials,
  ASSUME_ROLE_SESSION_NAME,
  CREDENTIALS_REFRESH_MARGIN_MS,
  LambdaClients,
  regionOfArn,
  type LambdaAddress,
} from '../../lib/endpoint/lambda-clients.js';
import { createTransport } from '../../lib/endpoint/transport.js';

const sts = mockClient(STSClient);
const lambda = mockClient(LambdaClient);

const ROLE = 'arn:aws:iam::210987654321:role/restless-caller';
const FN_EU = 'arn:aws:lambda:eu-west-1:210987654321:function:greeter';
const FN_US = 'arn:aws:lambda:us-east-2:210987654321:function:greeter:7';
/** A frozen clock: 2026-11-25T13:00:00.000Z. */
const NOW = Date.UTC(2026, 10, 25, 13, 0, 0, 0);
const HOUR = 3_600_000;

function address(arn: string, assumeRoleArn?: string): LambdaAddress {
  return { kind: 'lambda', arn, assumeRoleArn, additionalHeaders: {} };
}

function stsCredentials(key: string, expiresAtMs: number) {
  return { Credentials: { AccessKeyId: key, SecretAccessKey: `secret-${key}`, SessionToken: `token-${key}`, Expiration: new Date(expiresAtMs) } };
}

/** What the client would sign with (the mocked `send` never resolves credentials itself). */
async function credentialsOf(client: LambdaClient) {
  const provider = client.config.credentials as () => Promise<{ accessKeyId: string; sessionToken?: string }>;
  return provider();
}

function clients(now: () => number = () => NOW) {
  return new LambdaClients({
    base: { region: 'eu-central-1', credentials: { accessKeyId: 'PROCESS', secretAccessKey: 'process' } },
    sts: new STSClient({ region: 'eu-central-1' }),
    now,
  });
}

beforeEach(() => {
  sts.reset();
  lambda.reset();
  lambda
    .on(InvokeCommand)
    .callsFake(async () => ({ StatusCode: 200, Payload: Buffer.from(JSON.stringify({ statusCode: 200, headers: {}, body: '', isBase64Encoded: true })) }));
});

describe('regionOfArn', () => {
  it.each([
    { case: 'an unqualified function', arn: FN_EU, region: 'eu-west-1' },
    { case: 'a version', arn: FN_US, region: 'us-east-2' },
    { case: 'GovCloud', arn: 'arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f', region: 'us-gov-west-1' },
    { case: 'a bare function name', arn: 'greeter', region: undefined },
    { case: 'a garbled region', arn: 'arn:aws:lambda:EU_WEST:1:function:f', region: undefined },
  ])('reads $case', ({ arn, region }) => {
    expect(regionOfArn(arn)).toBe(region);
  });
});

describe('LambdaClients', () => {
  it('calls an endpoint through a client of its ARN region, with the process credentials and no STS call', async () => {
    const client = await clients().forAddress(address(FN_US));
    await createTransport(address(FN_US), { lambda: client }).call({ path: '/invoke/greeter/Greet', headers: {}, body: new Uint8Array([1]) });

    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: FN_US, InvocationType: 'RequestResponse' });
    const sender = lambda.commandCalls(InvokeCommand)[0]!.thisValue as LambdaClient;
    expect(sender).toBe(client);
    expect(await sender.config.region()).toBe('us-east-2');
    expect((await credentialsOf(sender)).accessKeyId).toBe('PROCESS');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
  });

  it('reuses one client per (region, role) and builds another for another region or role', async () => {
    const c = clients();
    const eu = await c.forAddress(address(FN_EU));
    expect(await c.forAddress(address(`${FN_EU}:3`))).toBe(eu);
    expect(await c.forAddress(address(FN_US))).not.toBe(eu);
    expect(await c.forAddress(address(FN_EU, ROLE))).not.toBe(eu);
    expect(await c.forAddress(address(FN_EU, ROLE))).toBe(await c.forAddress(address(FN_EU, ROLE)));
  });

  it('assumes the registered role with AssumeRole (session "restless") and signs the Invoke with its credentials', async () => {
    sts.on(AssumeRoleCommand).resolves(stsCredentials('ASSUMED1', NOW + HOUR));
    const client = await clients().forAddress(address(FN_EU, ROLE));
    await createTransport(address(FN_EU, ROLE), { lambda: client }).call({ path: '/invoke/greeter/Greet', headers: {}, body: new Uint8Array() });

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0); // the mocked send signs nothing: credentials are resolved below
    const creds = await credentialsOf(client);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: ASSUME_ROLE_SESSION_NAME });
    expect(creds).toEqual({ accessKeyId: 'ASSUMED1', secretAccessKey: 'secret-ASSUMED1', sessionToken: 'token-ASSUMED1', expiration: new Date(NOW + HOUR) });
    expect(await client.config.region()).toBe('eu-west-1');
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: FN_EU });
  });
});

describe('LambdaClients without an STS client of its own', () => {
  it('builds one in the process region when a role is first assumed, and shares it between roles', async () => {
    sts
      .on(AssumeRoleCommand)
      .callsFake(async (input: { RoleArn: string }) => stsCredentials(input.RoleArn.endsWith('other') ? 'OTHER' : 'ASSUMED', NOW + HOUR));
    const c = new LambdaClients({ base: { region: 'eu-central-1', credentials: { accessKeyId: 'PROCESS', secretAccessKey: 'process' } }, now: () => NOW });
    const first = await c.forAddress(address(FN_EU, ROLE));
    const second = await c.forAddress(address(FN_EU, `${ROLE}-other`));
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0); // nothing assumed before credentials are asked for
    expect((await credentialsOf(first)).accessKeyId).toBe('ASSUMED');
    expect((await credentialsOf(second)).accessKeyId).toBe('OTHER');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
    const senders = sts.commandCalls(AssumeRoleCommand).map((call) => call.thisValue as STSClient);
    expect(senders[0]).toBe(senders[1]);
  });
});

describe('assumeRoleCredentials', () => {
  const provider = (now: () => number = () => NOW) => assumeRoleCredentials({ sts: new STSClient({ region: 'eu-central-1' }), roleArn: ROLE, now });

  it('caches the assumed credentials across calls and shares one AssumeRole between concurrent callers', async () => {
    sts.on(AssumeRoleCommand).resolves(stsCredentials('ASSUMED1', NOW + HOUR));
    const credentials = provider();

    const first = await Promise.all([credentials(), credentials(), credentials()]);
    const later = await credentials();

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect([...first, later].map((c) => c.accessKeyId)).toEqual(['ASSUMED1', 'ASSUMED1', 'ASSUMED1', 'ASSUMED1']);
  });

  it('assumes the role again once the credentials come within the refresh margin of their expiry', async () => {
    let now = NOW;
    sts
      .on(AssumeRoleCommand)
      .resolvesOnce(stsCredentials('ASSUMED1', NOW + HOUR))
      .resolvesOnce(stsCredentials('ASSUMED2', NOW + 2 * HOUR));
    const credentials = provider(() => now);

    expect((await credentials()).accessKeyId).toBe('ASSUMED1');
    now = NOW + HOUR - CREDENTIALS_REFRESH_MARGIN_MS - 1;
    expect((await credentials()).accessKeyId).toBe('ASSUMED1');
    now = NOW + HOUR - CREDENTIALS_REFRESH_MARGIN_MS;
    expect((await credentials()).accessKeyId).toBe('ASSUMED2');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
  });

  it.each([
    {
      case: 'access denied (not retryable: a grant is missing)',
      error: Object.assign(new Error('not authorized to perform sts:AssumeRole'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }),
      retryable: false,
    },
    {
      case: 'throttling (retryable)',
      error: Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }),
      retryable: true,
    },
  ])('turns a failed AssumeRole into EndpointCredentialsError: $case', async ({ error, retryable }) => {
    sts.on(AssumeRoleCommand).rejects(error);

    const err = await provider()().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointCredentialsError);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as EndpointCredentialsError).retryable).toBe(retryable);
    expect((err as Error).message).toContain(ROLE);
  });

  it('tries AssumeRole again on the next call after a failure (a failure is not cached)', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .resolves(stsCredentials('ASSUMED1', NOW + HOUR));
    const credentials = provider();

    await expect(credentials()).rejects.toBeInstanceOf(EndpointCredentialsError);
    expect((await credentials()).accessKeyId).toBe('ASSUMED1');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
  });
});

describe('LambdaTransport with an unassumable role', () => {
  it('passes EndpointCredentialsError through with its retry verdict (not a generic transport failure)', async () => {
    const denied = new EndpointCredentialsError(`could not assume ${ROLE}`, { retryable: false });
    lambda.on(InvokeCommand).rejects(denied);
    const transport = createTransport(address(FN_EU, ROLE), { lambda: new LambdaClient({ region: 'eu-west-1' }) });

    const err = await transport.call({ path: '/invoke/greeter/Greet', headers: {}, body: new Uint8Array() }).catch((e: unknown) => e);
    expect(err).toBe(denied);
    expect((err as TransportError).retryable).toBe(false);
  });
});
