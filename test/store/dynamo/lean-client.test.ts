/**
 * The lean DynamoDB client against a scripted local HTTP server (no DynamoDB Local): retries and
 * their idempotency token, timeouts, the SigV4 wiring, decoding of answers DynamoDB Local never
 * gives (unprocessed items), interceptors, and how endpoint and client kind are chosen.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SdkDocumentClient, type DocumentClient } from '../../../lib/store/dynamo/document-client.js';
import { LeanDynamoClient, type LeanClientOptions } from '../../../lib/store/dynamo/lean-client.js';
import { backoffMs, retryKind } from '../../../lib/store/dynamo/retry.js';
import { dnsSuffix, resolveEndpoint } from '../../../lib/store/dynamo/signing.js';
import { documentClientKind } from '../../../lib/store/table.js';

interface Seen {
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Reply = { status: number; body: unknown } | 'reset' | 'hang';

/** A server that answers each request with the next scripted reply (the last one repeats). */
async function scripted(replies: Reply[]) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = replies[Math.min(seen.length - 1, replies.length - 1)]!;
      if (reply === 'hang') return;
      if (reply === 'reset') return void req.socket.destroy();
      res.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `req-${seen.length}` });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  servers.push(server);
  return { seen, endpoint };
}

const servers: http.Server[] = [];
const clients: DocumentClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

function lean(endpoint: string, options: LeanClientOptions = {}): LeanDynamoClient {
  const client = new LeanDynamoClient({ endpoint, region: 'us-west-2', credentials: CREDENTIALS, ...options });
  clients.push(client);
  return client;
}

function sdk(endpoint: string): DocumentClient {
  const client = new SdkDocumentClient(
    DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: 'us-west-2', credentials: CREDENTIALS }), {
      marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
      unmarshallOptions: { wrapNumbers: false },
    }),
  );
  clients.push(client);
  return client;
}

const type = (name: string) => `com.amazonaws.dynamodb.v20120810#${name}`;
const TX = new TransactWriteCommand({ TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a', sk: 'b' } } }] });

describe('lean client: retries (the SDK standard mode)', () => {
  it('retries a 500 and a throttling answer, then succeeds; the transaction token is the same on every attempt', async () => {
    const { seen, endpoint } = await scripted([
      { status: 500, body: { __type: type('InternalServerError'), message: 'boom' } },
      { status: 400, body: { __type: type('ThrottlingException'), message: 'slow down' } },
      { status: 200, body: {} },
    ]);
    const out = await lean(endpoint).send(TX);
    expect(out.$metadata.attempts).toBe(3);
    expect(seen).toHaveLength(3);
    const tokens = seen.map((s) => (JSON.parse(s.body) as { ClientRequestToken?: string }).ClientRequestToken);
    expect(tokens[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(tokens).size).toBe(1);
    // The signature is made afresh for each attempt.
    expect(seen.every((s) => s.headers['x-amz-target'] === 'DynamoDB_20120810.TransactWriteItems')).toBe(true);
  });

  it("keeps the caller's own ClientRequestToken, and a second send of the same command gets a new generated one", async () => {
    const { seen, endpoint } = await scripted([{ status: 200, body: {} }]);
    const client = lean(endpoint);
    await client.send(new TransactWriteCommand({ ...TX.input, ClientRequestToken: 'mine' }));
    await client.send(TX);
    await client.send(TX);
    const tokens = seen.map((s) => (JSON.parse(s.body) as { ClientRequestToken?: string }).ClientRequestToken);
    expect(tokens[0]).toBe('mine');
    expect(tokens[1]).not.toBe(tokens[2]);
    expect(TX.input.ClientRequestToken).toBeUndefined();
  });

  it('gives up after 3 attempts with the last error, its status and the attempt count', async () => {
    const { seen, endpoint } = await scripted([{ status: 503, body: { __type: type('InternalServerError'), message: 'down' } }]);
    const err = (await lean(endpoint)
      .send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }))
      .catch((e: unknown) => e)) as Error & { $metadata: { attempts: number; httpStatusCode: number } };
    expect(err.name).toBe('InternalServerError');
    expect(err.$metadata).toMatchObject({ attempts: 3, httpStatusCode: 503 });
    expect(seen).toHaveLength(3);
  });

  it('does not retry an answer (a failed condition), and carries the stored item marshalled with binary as Uint8Array', async () => {
    const { seen, endpoint } = await scripted([
      {
        status: 400,
        body: { __type: type('ConditionalCheckFailedException'), message: 'The conditional request failed', Item: { b: { B: 'AQI=' }, n: { N: '1' } } },
      },
    ]);
    const err = await lean(endpoint)
      .send(new UpdateCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': 2 } }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect((err as ConditionalCheckFailedException).Item).toEqual({ b: { B: new Uint8Array([1, 2]) }, n: { N: '1' } });
    expect((err as ConditionalCheckFailedException).$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1, requestId: 'req-1' });
    expect(seen).toHaveLength(1);
  });

  it('retries a connection reset', async () => {
    const { seen, endpoint } = await scripted(['reset', { status: 200, body: { Item: { pk: { S: 'a' } } } }]);
    const out = await lean(endpoint).send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));
    expect(out.Item).toEqual({ pk: 'a' });
    expect(out.$metadata.attempts).toBe(2);
    expect(seen).toHaveLength(2);
  });

  it('classifies and backs off as the SDK does', () => {
    expect(retryKind({ name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } })).toBe('throttling');
    expect(retryKind({ name: 'TimeoutError' })).toBe('transient');
    expect(retryKind({ code: 'ECONNRESET' })).toBe('transient');
    expect(retryKind({ name: 'ConditionalCheckFailedException', $metadata: { httpStatusCode: 400 } })).toBeUndefined();
    expect(retryKind({ name: 'TransactionCanceledException', $metadata: { httpStatusCode: 400 } })).toBeUndefined();
    expect(backoffMs(1, 'transient', () => 0.999)).toBe(99);
    expect(backoffMs(2, 'throttling', () => 0.5)).toBe(500);
    expect(backoffMs(30, 'server', () => 1)).toBe(20_000);
  });
});

describe('lean client: timeouts', () => {
  it('a server that never answers fails the call with a TimeoutError instead of hanging', async () => {
    const { seen, endpoint } = await scripted(['hang']);
    const started = Date.now();
    const err = (await lean(endpoint, { socketTimeoutMs: 200, maxAttempts: 2 })
      .send(new PutCommand({ TableName: 't', Item: { pk: 'a', sk: 'b' } }))
      .catch((e: unknown) => e)) as Error & { $metadata: { attempts: number } };
    expect(err.name).toBe('TimeoutError');
    expect(err.$metadata.attempts).toBe(2);
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

/** SigV4 computed here from scratch, to check the SDK signer's wiring independently. */
function expectedSignature(seen: Seen, secret: string, region: string): string {
  const auth = String(seen.headers.authorization);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!;
  const amzDate = String(seen.headers['x-amz-date']);
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((h) => `${h}:${String(seen.headers[h]).trim()}\n`)
    .join('');
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const canonical = ['POST', '/', '', canonicalHeaders, signedHeaders, sha(seen.body)].join('\n');
  const scope = `${amzDate.slice(0, 8)}/${region}/dynamodb/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n');
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, amzDate.slice(0, 8)), region), 'dynamodb'), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('lean client: SigV4', () => {
  const AUTH = /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/(\d{8})\/us-west-2\/dynamodb\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

  it('signs with the right scope and headers, and the signature checks out', async () => {
    const { seen, endpoint } = await scripted([{ status: 200, body: {} }]);
    await lean(endpoint).send(new PutCommand({ TableName: 't', Item: { pk: 'a', sk: 'b', bin: new Uint8Array([1]) } }));
    const { authorization, 'x-amz-date': amzDate, 'x-amz-security-token': token } = seen[0]!.headers;
    const m = AUTH.exec(String(authorization));
    expect(m).not.toBeNull();
    expect(m![1]).toBe(String(amzDate).slice(0, 8));
    expect(m![2]!.split(';')).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-target', 'content-type']));
    expect(token).toBeUndefined();
    expect(m![3]).toBe(expectedSignature(seen[0]!, CREDENTIALS.secretAccessKey, 'us-west-2'));
    expect(seen[0]!.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(JSON.parse(seen[0]!.body)).toEqual({ TableName: 't', Item: { pk: { S: 'a' }, sk: { S: 'b' }, bin: { B: 'AQ==' } } });
  });

  it('sends and signs X-Amz-Security-Token with session credentials (from a provider, asked once)', async () => {
    const { seen, endpoint } = await scripted([{ status: 200, body: {} }]);
    let asked = 0;
    const provider = async () => {
      asked++;
      return { ...CREDENTIALS, sessionToken: 'the-session-token', expiration: new Date(Date.now() + 3_600_000) };
    };
    const client = lean(endpoint, { credentials: provider });
    await client.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));
    await client.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));
    expect(asked).toBe(1);
    expect(seen[1]!.headers['x-amz-security-token']).toBe('the-session-token');
    const m = AUTH.exec(String(seen[1]!.headers.authorization));
    expect(m![2]!.split(';')).toContain('x-amz-security-token');
    expect(m![3]).toBe(expectedSignature(seen[1]!, CREDENTIALS.secretAccessKey, 'us-west-2'));
  });

  it('renews credentials that are about to expire', async () => {
    const { endpoint } = await scripted([{ status: 200, body: {} }]);
    let asked = 0;
    const provider = async () => ({ ...CREDENTIALS, sessionToken: `t${++asked}`, expiration: new Date(Date.now() + 60_000) });
    const client = lean(endpoint, { credentials: provider });
    await client.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));
    await client.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));
    expect(asked).toBe(2);
  });

  it('inside Lambda, sends the X-Ray trace header as the SDK does', async () => {
    const { seen, endpoint } = await scripted([{ status: 200, body: {} }]);
    const saved = { fn: process.env.AWS_LAMBDA_FUNCTION_NAME, trace: process.env._X_AMZN_TRACE_ID };
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'fn';
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';
    try {
      await lean(endpoint).send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));
    } finally {
      for (const [k, v] of [
        ['AWS_LAMBDA_FUNCTION_NAME', saved.fn],
        ['_X_AMZN_TRACE_ID', saved.trace],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    expect(seen[0]!.headers['x-amzn-trace-id']).toBe('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1');
  });
});

describe('lean client: answers DynamoDB Local does not give, decoded as the DocumentClient decodes them', () => {
  it('UnprocessedKeys and UnprocessedItems (with binary) match the DocumentClient', async () => {
    const batchGet = {
      Responses: { t: [{ pk: { S: 'a' }, v: { N: '1' }, b: { B: 'AAE=' } }] },
      UnprocessedKeys: { t: { Keys: [{ pk: { S: 'b' }, sk: { S: 'm' } }], ConsistentRead: true } },
    };
    const batchWrite = {
      UnprocessedItems: {
        t: [
          { PutRequest: { Item: { pk: { S: 'c' }, s: { BS: ['AQ==', 'Ag=='] }, l: { L: [{ NULL: true }, { M: { x: { B: 'Aw==' } } }] } } } },
          { DeleteRequest: { Key: { pk: { S: 'd' } } } },
        ],
      },
    };
    const outputs = [];
    for (const make of [lean, sdk]) {
      const { endpoint } = await scripted([
        { status: 200, body: batchGet },
        { status: 200, body: batchWrite },
      ]);
      const client = make(endpoint);
      const got = await client.send(new BatchGetCommand({ RequestItems: { t: { Keys: [{ pk: 'a' }, { pk: 'b', sk: 'm' }] } } }));
      const wrote = await client.send(new BatchWriteCommand({ RequestItems: { t: [{ DeleteRequest: { Key: { pk: 'd' } } }] } }));
      outputs.push([got, wrote].map(({ $metadata: _, ...rest }) => rest));
    }
    expect(outputs[0]).toEqual(outputs[1]);
    const [got] = outputs[0]!;
    expect((got as { Responses: Record<string, Record<string, unknown>[]> }).Responses.t![0]!.b).toBeInstanceOf(Uint8Array);
    expect((got as { UnprocessedKeys: unknown }).UnprocessedKeys).toEqual({ t: { Keys: [{ pk: 'b', sk: 'm' }], ConsistentRead: true } });
  });
});

describe('interceptors (both clients)', () => {
  it.each([
    ['lean', lean],
    ['sdk', sdk],
  ] as const)('%s: run outermost first, see the operation and a copy of the input, may send twice', async (_kind, make) => {
    const { seen, endpoint } = await scripted([{ status: 200, body: { Attributes: { n: { N: '2' } } } }]);
    const client = make(endpoint);
    const order: string[] = [];
    client.use(async (call, next) => {
      order.push(`outer ${call.operation}`);
      call.input.ReturnConsumedCapacity = 'INDEXES';
      return next();
    });
    client.use(async (call, next) => {
      order.push(`inner ${String(call.input.ReturnConsumedCapacity)}`);
      await next();
      return next();
    });
    const command = new UpdateCommand({
      TableName: 't',
      Key: { pk: 'a', sk: 'b' },
      UpdateExpression: 'SET n = :n',
      ExpressionAttributeValues: { ':n': 2 },
      ReturnValues: 'ALL_NEW',
    });
    const out = await client.send(command);
    expect(out.Attributes).toEqual({ n: 2 });
    expect(order).toEqual(['outer UpdateItemCommand', 'inner INDEXES']);
    expect(seen).toHaveLength(2);
    expect((JSON.parse(seen[0]!.body) as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity).toBe('INDEXES');
    expect(command.input.ReturnConsumedCapacity).toBeUndefined();
  });
});

describe('configuration', () => {
  it('endpoint: explicit, else AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL, else the partition endpoint', () => {
    const env = { AWS_ENDPOINT_URL: 'http://generic:1', AWS_ENDPOINT_URL_DYNAMODB: 'http://ddb:2' };
    expect(resolveEndpoint('us-east-1', 'http://explicit:3', env).href).toBe('http://explicit:3/');
    expect(resolveEndpoint('us-east-1', undefined, env).href).toBe('http://ddb:2/');
    expect(resolveEndpoint('us-east-1', undefined, { AWS_ENDPOINT_URL: 'http://generic:1' }).href).toBe('http://generic:1/');
    expect(resolveEndpoint('eu-west-1', undefined, {}).href).toBe('https://dynamodb.eu-west-1.amazonaws.com/');
    expect(resolveEndpoint('cn-north-1', undefined, {}).href).toBe('https://dynamodb.cn-north-1.amazonaws.com.cn/');
    expect(dnsSuffix('us-gov-west-1')).toBe('amazonaws.com');
  });

  it('RESTLESS_DYNAMODB_CLIENT: lean by default, sdk on request, anything else refused', () => {
    expect(documentClientKind({})).toBe('lean');
    expect(documentClientKind({ RESTLESS_DYNAMODB_CLIENT: 'sdk' })).toBe('sdk');
    expect(documentClientKind({ RESTLESS_DYNAMODB_CLIENT: 'lean' })).toBe('lean');
    expect(() => documentClientKind({ RESTLESS_DYNAMODB_CLIENT: 'SDK2' })).toThrow(/RESTLESS_DYNAMODB_CLIENT/);
  });
});
