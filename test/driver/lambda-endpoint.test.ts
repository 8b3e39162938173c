/**
 * The whole composition the Lambdas use (createRuntime), with an ARN endpoint: the Lambda Invoke
 * client is mocked to call the real SDK's lambdaHandler(), and the exact payloads are asserted.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { exampleEndpoint } from '../../examples/example-endpoint.js';
import { eventFromRequest, responseFromResult } from '../../lib/http/apigw.js';
import { apiGatewayHandler } from '../../lib/http/lambda.js';
import { silentLogger } from '../../lib/log.js';
import { createRuntime } from '../../lib/runtime.js';
import { ensureTable } from '../../lib/store/table.js';
import { freshTable, localDynamoConfig } from '../support/ddb.js';
import { testConfig } from '../support/runtime.js';

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:greeter';

describe('a Lambda (ARN) endpoint through the Lambda composition', () => {
  it('registers, invokes with the API Gateway v1-shaped payload, and answers JSON and proto', async () => {
    const { tableName } = await freshTable('lambda');
    const lambda = mockClient(LambdaClient);
    const sdk = exampleEndpoint().lambdaHandler();
    const payloads: Record<string, unknown>[] = [];
    lambda.on(InvokeCommand).callsFake(async (input: { FunctionName: string; Payload: Uint8Array }) => {
      const payload = JSON.parse(Buffer.from(input.Payload).toString()) as Record<string, unknown>;
      payloads.push({ function: input.FunctionName, ...payload });
      const result = await sdk(payload, { awsRequestId: 'mock' });
      return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(result)) };
    });
    const runtime = createRuntime({
      config: testConfig({ tableName }),
      dynamo: localDynamoConfig(),
      lambda: new LambdaClient({ region: 'us-east-1' }),
      timers: 'local',
      log: silentLogger,
    });
    await ensureTable(runtime.tables.client, tableName);
    const admin = apiGatewayHandler(runtime.admin);
    const ingress = apiGatewayHandler(runtime.ingress);
    const call = async (handler: typeof admin, method: string, url: string, body: Uint8Array | string, contentType = 'application/json') =>
      responseFromResult(
        await handler(eventFromRequest({ method, url, headers: { 'content-type': contentType }, body: typeof body === 'string' ? Buffer.from(body) : body }), {
          awsRequestId: 'test',
        }),
      );

    const reg = await call(admin, 'POST', '/endpoints', JSON.stringify({ arn: ARN }));
    expect(reg.status).toBe(201);
    expect(payloads[0]).toMatchObject({ function: ARN, path: '/discover', httpMethod: 'POST', isBase64Encoded: true });

    const res = await call(ingress, 'POST', '/org.example.Greeter/Greet', JSON.stringify({ name: 'Lambda' }));
    expect(res.status).toBe(200);
    expect(Buffer.from(res.body).toString()).toBe('{"greeting":"Hello Lambda"}');
    const invoke = payloads.find((p) => p.path === '/invoke/org.example.Greeter/Greet')!;
    expect(invoke).toMatchObject({
      function: ARN,
      httpMethod: 'POST',
      isBase64Encoded: true,
      headers: { 'content-type': 'application/restate', accept: 'application/restate' },
    });
    // The body is the framed StartMessage (type 0x0000, PV = 1) + PollInputStream.
    const body = Buffer.from(invoke.body as string, 'base64');
    expect(body.subarray(0, 4).toString('hex')).toBe('00000001');

    const proto = await call(ingress, 'POST', '/org.example.Greeter/Greet', new Uint8Array([0x0a, 2, 0x41, 0x42]), 'application/proto');
    expect(proto.headers['content-type']).toBe('application/proto');
    expect(Buffer.from(proto.body)).toEqual(Buffer.from([0x0a, 8, ...Buffer.from('Hello AB')]));
    runtime.localTimers?.stop();
    lambda.restore();
  });
});
