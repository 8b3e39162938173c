import { Match } from 'aws-cdk-lib/assertions';
import { RemovalPolicy } from 'aws-cdk-lib';
import { beforeAll, describe, it } from 'vitest';
import type { Template } from 'aws-cdk-lib/assertions';
import { ENV } from '../../lib/config.js';
import { TABLE_SCHEMA } from '../../lib/store/table.js';
import { synth } from './support.js';

describe('Restless table', () => {
  let template: Template;
  beforeAll(() => {
    template = synth();
  });

  it('declares exactly one DynamoDB table (Table, not a global table)', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
  });

  it('uses the string pk/sk keys of TABLE_SCHEMA', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_SCHEMA.sortKey, AttributeType: 'S' },
      ]),
    });
  });

  it('has the keys-only `due` GSI over gsi1pk/gsi1sk', () => {
    const { dueIndex } = TABLE_SCHEMA;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: dueIndex.partitionKey, AttributeType: 'S' },
        { AttributeName: dueIndex.sortKey, AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: dueIndex.name,
          KeySchema: [
            { AttributeName: dueIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: dueIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ]),
    });
  });

  it('has the keys-only `pinned` GSI over pinnedTo/pk (unfinished invocations per deployment)', () => {
    const { pinnedIndex } = TABLE_SCHEMA;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      AttributeDefinitions: Match.arrayWith([{ AttributeName: pinnedIndex.partitionKey, AttributeType: 'S' }]),
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: pinnedIndex.name,
          KeySchema: [
            { AttributeName: pinnedIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: pinnedIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ]),
    });
  });

  it('has the `list` GSI over gsi2pk/gsi2sk projecting only service, method and the key hash', () => {
    const { listIndex } = TABLE_SCHEMA;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: listIndex.partitionKey, AttributeType: 'S' },
        { AttributeName: listIndex.sortKey, AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: listIndex.name,
          KeySchema: [
            { AttributeName: listIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: listIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['service', 'method', 'lk'] },
        },
      ]),
    });
  });

  it('enables TTL on expiresAt', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
    });
  });

  it('enables point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('bills on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      ProvisionedThroughput: Match.absent(),
    });
  });

  it('is retained when it leaves the stack, by default', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('is deleted with the stack when tableRemovalPolicy is DESTROY', () => {
    synth({ tableRemovalPolicy: RemovalPolicy.DESTROY }).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  it('takes a fixed name when tableName is given, and hands it to the functions as a literal', () => {
    const t = synth({ tableName: 'restless-prod' });
    t.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'restless-prod' });
    t.allResourcesProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ [ENV.tableName]: 'restless-prod' }) } });
  });
});
