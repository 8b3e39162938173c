/**
 * The single DynamoDB table: its shape (shared by the CDK construct, the local runner and the
 * tests) and the one place DynamoDB clients are built.
 */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { SdkDocumentClient, type DocumentClient } from './dynamo/document-client.js';
import { LeanDynamoClient, type LeanClientOptions } from './dynamo/lean-client.js';

export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /**
   * Sparse GSI over invocations that need a future action (runnable, leased, due to wake, delayed,
   * head of an inbox after a hand-over): the sweep reads it. The table is the only truth; kicks
   * and timers only make things faster.
   */
  dueIndex: { name: 'due', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  /** Sparse GSI over unfinished invocations with journaled progress, by the deployment they are pinned to. */
  pinnedIndex: { name: 'pinned', partitionKey: 'pinnedTo', sortKey: 'pk' },
  /**
   * Every invocation, newest first, for the admin listing (docs/operations.md has the costs).
   * Written once, at accept: its keys and projected attributes never change afterwards, so no
   * transition pays an index write. Sharded like `due`, so no partition takes every accept.
   * Projects only what the listing filters on (service, method, key hash); the page itself is
   * read from the table.
   */
  listIndex: { name: 'list', partitionKey: 'gsi2pk', sortKey: 'gsi2sk', include: ['service', 'method', 'lk'] },
  /** Seconds since the epoch. DynamoDB deletes lazily: readers check it themselves. */
  ttlAttribute: 'expiresAt',
} as const;

/** Key builders: the only place item keys are spelled. */
export const keys = {
  endpoint: (id: string) => ({ pk: `ep#${id}`, sk: 'meta' }),
  service: (name: string) => ({ pk: `svc#${name}`, sk: 'meta' }),
  /** Lists every registered service without a scan (a small catalogue item). */
  catalogue: () => ({ pk: 'catalogue', sk: 'meta' }),
  invocation: (id: string) => ({ pk: `inv#${id}`, sk: 'meta' }),
  journalEntry: (id: string, index: number) => ({ pk: `inv#${id}`, sk: `j#${String(index).padStart(8, '0')}` }),
  completion: (id: string, index: number) => ({ pk: `inv#${id}`, sk: `c#${String(index).padStart(8, '0')}` }),
  idempotency: (scope: string) => ({ pk: `idem#${scope}`, sk: 'meta' }),
  /**
   * One item per keyed service instance: lock holder + FIFO inbox + state. Service and key are the
   * user's data (a key may be 64 KB, a partition key at most 2 KB): hashed here, kept in full as
   * attributes of the item.
   */
  instance: (service: string, key: string) => ({
    pk: `obj#${createHash('sha256').update(service).update('\u0000').update(key).digest('base64url')}`,
    sk: 'meta',
  }),
  timer: (id: string) => ({ pk: `tmr#${id}`, sk: 'meta' }),
} as const;

export interface TableClients {
  /** The SDK client, for table management (create, describe, TTL): nothing hot. */
  client: DynamoDBClient;
  /** Every item read and write goes through this one. */
  doc: DocumentClient;
  tableName: string;
}

/** `sdk` sends item requests through the AWS SDK's DocumentClient instead of the lean client (the default). */
export const DYNAMODB_CLIENT_ENV = 'RESTLESS_DYNAMODB_CLIENT';

/** Which document client `createTableClients` builds; a typo is an error, not a silent default. */
export function documentClientKind(env: NodeJS.ProcessEnv = process.env): 'lean' | 'sdk' {
  const raw = env[DYNAMODB_CLIENT_ENV]?.trim() ?? '';
  if (raw === '' || raw === 'lean') return 'lean';
  if (raw === 'sdk') return 'sdk';
  throw new ConfigurationError(`${DYNAMODB_CLIENT_ENV} must be 'lean' or 'sdk', got ${JSON.stringify(raw)}`);
}

/**
 * Builds the clients once. Both document clients honour `AWS_ENDPOINT_URL` and
 * `AWS_ENDPOINT_URL_DYNAMODB`; an explicit endpoint (the local runner's) wins over both.
 */
export function createTableClients(tableName: string, config: DynamoDBClientConfig = {}, kind = documentClientKind()): TableClients {
  const client = new DynamoDBClient(config);
  if (kind === 'lean') return { client, doc: new LeanDynamoClient(leanOptions(config, client)), tableName };
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  return { client, doc: new SdkDocumentClient(doc), tableName };
}

/** The lean client's settings from an SDK client config; what is not given resolves as the SDK would. */
function leanOptions(config: DynamoDBClientConfig, client: DynamoDBClient): LeanClientOptions {
  const { endpoint, region, credentials, maxAttempts } = config;
  if (endpoint !== undefined && typeof endpoint !== 'string') throw new ConfigurationError('the lean DynamoDB client takes its endpoint as a URL string');
  if (credentials !== undefined && typeof credentials === 'function' && credentials.length > 0) {
    // An identity provider that wants arguments is not one the lean client can call.
    throw new ConfigurationError('the lean DynamoDB client takes credentials as an object or a provider without arguments');
  }
  return {
    endpoint,
    // The SDK also reads the shared config file; its resolver stays the fallback.
    region: typeof region === 'string' ? region : process.env.AWS_REGION || (() => client.config.region()),
    credentials: credentials as LeanClientOptions['credentials'],
    maxAttempts: typeof maxAttempts === 'number' ? maxAttempts : undefined,
  };
}

/** Creates the table as the CDK construct declares it, if it does not exist (local runner, tests). */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (err) {
    if ((err as { name?: string }).name !== 'ResourceNotFoundException') throw err;
  }
  const { partitionKey, sortKey, dueIndex, pinnedIndex, listIndex, ttlAttribute } = TABLE_SCHEMA;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: partitionKey, AttributeType: 'S' },
          { AttributeName: sortKey, AttributeType: 'S' },
          { AttributeName: dueIndex.partitionKey, AttributeType: 'S' },
          { AttributeName: dueIndex.sortKey, AttributeType: 'S' },
          { AttributeName: pinnedIndex.partitionKey, AttributeType: 'S' },
          { AttributeName: listIndex.partitionKey, AttributeType: 'S' },
          { AttributeName: listIndex.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: partitionKey, KeyType: 'HASH' },
          { AttributeName: sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: dueIndex.name,
            KeySchema: [
              { AttributeName: dueIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: dueIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
          {
            IndexName: pinnedIndex.name,
            KeySchema: [
              { AttributeName: pinnedIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: pinnedIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
          {
            IndexName: listIndex.name,
            KeySchema: [
              { AttributeName: listIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: listIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...listIndex.include] },
          },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
    }),
  );
}

/** True when an item's TTL has passed: DynamoDB may still return it for days. */
export function isExpired(item: { expiresAt?: unknown } | undefined, nowMs: number): boolean {
  return typeof item?.expiresAt === 'number' && item.expiresAt * 1000 <= nowMs;
}
