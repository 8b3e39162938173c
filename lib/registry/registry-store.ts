/**
 * The registry's DynamoDB items (the only file here that speaks DynamoDB):
 *
 *   ep#{id}  / meta                     endpoint (deployment): address, protocol, the services it
 *                                       serves {name: revision}, generation, descriptor (inline
 *                                       when ≤ 350 KB); never rewritten when another deployment
 *                                       takes its services over
 *   ep#{id}  / desc#{hash}#{i:04d}      descriptor chunks when the set is larger
 *   svc#{name} / meta                   ServiceMetadata of the latest revision (its endpoint_id is
 *                                       the deployment new calls go to) + that endpoint's
 *                                       generation and descriptor hash
 *   catalogue / meta                    names of all services and endpoints + a version
 *
 * Every change (register, delete, set public) is one transaction conditional on the catalogue's
 * version, so concurrent admin calls never interleave: the loser gets CatalogueChangedError and
 * the caller re-reads and retries. Descriptor chunks are written before the transaction and are
 * keyed by content hash, so a reader that sees a meta item always finds its chunks.
 */
import { BatchGetCommand, BatchWriteCommand, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { keys, type TableClients } from '../store/table.js';
import { Code, RestlessError } from '../errors.js';
import type { Catalogue, EndpointSummary, RegistrationPlan } from './registration.js';
import type { InstanceType, MethodMetadata, ServiceMetadata } from './types.js';

/** Descriptor sets above this size go into chunk items (an item holds at most 400 KB). */
export const DESCRIPTOR_CHUNK_BYTES = 350 * 1024;

/** A service item: its metadata and which endpoint registration produced it. */
export interface StoredService {
  meta: ServiceMetadata;
  endpointGeneration: string;
  descriptorHash: string;
}

/** An endpoint with its (repaired) descriptor set. */
export interface StoredEndpoint extends EndpointSummary {
  descriptorSet: Uint8Array;
}

/** Another admin change committed between our read and our write: re-read and try again. */
export class CatalogueChangedError extends RestlessError {
  constructor(options: { cause?: unknown } = {}) {
    super(Code.Aborted, 'the registry changed concurrently', options);
  }
}

interface EndpointItem extends EndpointSummary {
  pk: string;
  sk: string;
  kind: 'endpoint';
  descriptorSize: number;
  /** 0: the descriptor is inline in `descriptor`. */
  descriptorChunks: number;
  descriptor?: Uint8Array;
}

interface ServiceItem {
  pk: string;
  sk: string;
  kind: 'service';
  name: string;
  methods: MethodMetadata[];
  instanceType: InstanceType;
  endpointId: string;
  revision: number;
  public: boolean;
  endpointGeneration: string;
  descriptorHash: string;
}

interface CatalogueItem {
  pk: string;
  sk: string;
  version: number;
  services: string[];
  endpoints: string[];
}

/** Attributes of the endpoint item without the descriptor (listing must not drag 350 KB along). */
const ENDPOINT_SUMMARY_ATTRIBUTES = ['id', 'address', 'protocolType', 'services', 'createdAt', 'generation', 'descriptorHash'] as const;

/** BatchGetItem takes at most 100 keys; BatchWriteItem 25 requests. */
const BATCH_GET_LIMIT = 100;
const BATCH_WRITE_LIMIT = 25;

const chunkKey = (id: string, hash: string, index: number) => ({ pk: keys.endpoint(id).pk, sk: `desc#${hash}#${String(index).padStart(4, '0')}` });

export class RegistryStore {
  private readonly doc: TableClients['doc'];
  private readonly table: string;

  constructor(tables: Pick<TableClients, 'doc' | 'tableName'>) {
    this.doc = tables.doc;
    this.table = tables.tableName;
  }

  // ---- reads ----------------------------------------------------------------------------------

  async readCatalogue(consistent = false): Promise<Catalogue> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.catalogue(), ConsistentRead: consistent }));
    const item = out.Item as CatalogueItem | undefined;
    return item === undefined ? { version: 0, services: [], endpoints: [] } : { version: item.version, services: item.services, endpoints: item.endpoints };
  }

  async getService(name: string, consistent = false): Promise<StoredService | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.service(name), ConsistentRead: consistent }));
    return out.Item === undefined ? undefined : fromServiceItem(out.Item as ServiceItem);
  }

  /** The service items that exist among `names`, in no particular order. */
  async getServices(names: readonly string[], consistent = false): Promise<StoredService[]> {
    const items = await this.batchGet(names.map(keys.service), consistent);
    return items.map((i) => fromServiceItem(i as unknown as ServiceItem));
  }

  /** One endpoint without its descriptor. */
  async getEndpointSummary(id: string, consistent = false): Promise<EndpointSummary | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.endpoint(id),
        ConsistentRead: consistent,
        ...projection(ENDPOINT_SUMMARY_ATTRIBUTES),
      }),
    );
    return out.Item === undefined ? undefined : fromEndpointItem(out.Item as EndpointItem);
  }

  /** Endpoints among `ids`, without descriptors. */
  async getEndpointSummaries(ids: readonly string[], consistent = false): Promise<EndpointSummary[]> {
    const items = await this.batchGet(ids.map(keys.endpoint), consistent, ENDPOINT_SUMMARY_ATTRIBUTES);
    return items.map((i) => fromEndpointItem(i as unknown as EndpointItem));
  }

  /** One endpoint with its descriptor set: one GetItem, plus one Query when it is chunked. */
  async getEndpoint(id: string, consistent = false): Promise<StoredEndpoint | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.endpoint(id), ConsistentRead: consistent }));
    const item = out.Item as EndpointItem | undefined;
    if (item === undefined) return undefined;
    const descriptorSet = item.descriptorChunks === 0 ? (item.descriptor ?? new Uint8Array(0)) : await this.readChunks(item, consistent);
    return { ...fromEndpointItem(item), descriptorSet };
  }

  // ---- writes ---------------------------------------------------------------------------------

  /**
   * Applies a registration atomically. `expectedVersion` is the catalogue version the plan was
   * made from; if another change committed since, throws CatalogueChangedError.
   */
  async applyRegistration(plan: RegistrationPlan, expectedVersion: number, descriptorSet: Uint8Array): Promise<void> {
    // A failed transaction may leave unreferenced chunks behind; deleting the endpoint sweeps them.
    const { endpoint } = plan;
    const chunked = descriptorSet.byteLength > DESCRIPTOR_CHUNK_BYTES;
    const chunks = chunked ? splitChunks(descriptorSet) : [];
    if (chunked) {
      await this.batchWrite(chunks.map((data, i) => ({ PutRequest: { Item: { ...chunkKey(endpoint.id, endpoint.descriptorHash, i), data } } })));
    }
    const endpointItem: EndpointItem = {
      ...keys.endpoint(endpoint.id),
      kind: 'endpoint',
      id: endpoint.id,
      address: endpoint.address,
      protocolType: endpoint.protocolType,
      services: endpoint.services,
      createdAt: endpoint.createdAt,
      generation: endpoint.generation,
      descriptorHash: endpoint.descriptorHash,
      descriptorSize: descriptorSet.byteLength,
      descriptorChunks: chunks.length,
      ...(chunked ? {} : { descriptor: descriptorSet }),
    };
    const serviceItems: ServiceItem[] = plan.services.map((meta) => ({
      ...keys.service(meta.name),
      kind: 'service',
      name: meta.name,
      methods: meta.methods,
      instanceType: meta.instance_type,
      endpointId: meta.endpoint_id,
      revision: meta.revision,
      public: meta.public,
      endpointGeneration: endpoint.generation,
      descriptorHash: endpoint.descriptorHash,
    }));
    await this.transact(
      [
        { Put: { TableName: this.table, Item: endpointItem } },
        ...serviceItems.map((Item) => ({ Put: { TableName: this.table, Item } })),
        ...plan.removedServices.map((name) => ({ Delete: { TableName: this.table, Key: keys.service(name) } })),
        // Other deployments are not written: they keep serving the revisions they registered.
      ],
      expectedVersion,
      plan.catalogue,
    );
    // The old descriptor chunks are garbage now (unless the content, hence the hash, is the same).
    const previousHash = plan.replaced?.descriptorHash;
    if (previousHash !== undefined && previousHash !== endpoint.descriptorHash) {
      await this.deleteChunks(endpoint.id, previousHash);
    }
  }

  /**
   * Removes an endpoint and `services` (those still pointing at it), and writes `next` as the
   * catalogue if it is still at `expectedVersion`. Then sweeps the endpoint's descriptor chunks.
   */
  async deleteEndpoint(id: string, services: readonly string[], expectedVersion: number, next: Catalogue): Promise<void> {
    await this.transact(
      [
        { Delete: { TableName: this.table, Key: keys.endpoint(id) } },
        ...services.map((name) => ({ Delete: { TableName: this.table, Key: keys.service(name) } })),
      ],
      expectedVersion,
      next,
    );
    await this.deleteChunks(id, undefined);
  }

  /** Sets a service's `public` flag, if the catalogue is still `current`. */
  async setPublic(name: string, value: boolean, current: Catalogue): Promise<void> {
    const expectedVersion = current.version;
    await this.transact(
      [
        {
          Update: {
            TableName: this.table,
            Key: keys.service(name),
            UpdateExpression: 'SET #public = :public',
            // serviceExists: a service deleted meanwhile must not come back as a stub
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: { '#public': 'public', '#pk': 'pk' },
            ExpressionAttributeValues: { ':public': value },
          },
        },
      ],
      expectedVersion,
      { ...current, version: expectedVersion + 1 },
    );
  }

  // ---- plumbing -------------------------------------------------------------------------------

  /** One transaction: `actions` plus the catalogue write conditional on its version. */
  private async transact(actions: Record<string, unknown>[], expectedVersion: number, catalogue: Catalogue): Promise<void> {
    const catalogueItem: CatalogueItem = { ...keys.catalogue(), ...catalogue };
    const condition =
      expectedVersion === 0
        ? // catalogueAbsent: nothing was ever registered
          { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } }
        : // catalogueUnchanged: nobody committed since we read
          {
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': expectedVersion },
          };
    const items = [...actions, { Put: { TableName: this.table, Item: catalogueItem, ...condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } }];
    if (items.length > 100) {
      throw new RestlessError(Code.InvalidArgument, `Too many services in one change (${items.length - 2}); DynamoDB transactions hold at most 100 items`);
    }
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
    } catch (err) {
      const e = err as { name?: string; CancellationReasons?: { Code?: string }[] };
      if (e.name === 'TransactionCanceledException') {
        const reasons = e.CancellationReasons ?? [];
        const catalogueReason = reasons[reasons.length - 1]?.Code;
        if (catalogueReason === 'ConditionalCheckFailed' || reasons.some((r) => r.Code === 'TransactionConflict')) {
          throw new CatalogueChangedError({ cause: err });
        }
      }
      throw err;
    }
  }

  private async batchGet(keyList: { pk: string; sk: string }[], consistent: boolean, attributes?: readonly string[]): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < keyList.length; i += BATCH_GET_LIMIT) {
      let pending: { pk: string; sk: string }[] | undefined = keyList.slice(i, i + BATCH_GET_LIMIT);
      for (let attempt = 0; pending !== undefined && pending.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const res = await this.doc.send(
          new BatchGetCommand({
            RequestItems: {
              [this.table]: {
                Keys: pending,
                ConsistentRead: consistent,
                ...(attributes === undefined ? {} : projection(attributes)),
              },
            },
          }),
        );
        out.push(...(res.Responses?.[this.table] ?? []));
        pending = res.UnprocessedKeys?.[this.table]?.Keys as { pk: string; sk: string }[] | undefined;
      }
    }
    return out;
  }

  private async batchWrite(requests: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
      let pending: Record<string, unknown>[] | undefined = requests.slice(i, i + BATCH_WRITE_LIMIT);
      for (let attempt = 0; pending !== undefined && pending.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const res = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending as never } }));
        pending = res.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
      }
    }
  }

  private async readChunks(item: EndpointItem, consistent: boolean): Promise<Uint8Array> {
    const chunks = await this.queryPrefix(item.pk, `desc#${item.descriptorHash}#`, { ConsistentRead: consistent });
    const parts = chunks.map((chunk) => chunk.data as Uint8Array);
    if (parts.length !== item.descriptorChunks) {
      throw new RestlessError(Code.Internal, `endpoint ${item.id}: expected ${item.descriptorChunks} descriptor chunks, found ${parts.length}`);
    }
    return new Uint8Array(Buffer.concat(parts));
  }

  /** Deletes descriptor chunks of an endpoint: of one content hash, or all of them. */
  private async deleteChunks(id: string, hash: string | undefined): Promise<void> {
    const prefix = hash === undefined ? 'desc#' : `desc#${hash}#`;
    const doomed = await this.queryPrefix(keys.endpoint(id).pk, prefix, { ProjectionExpression: '#pk, #sk' });
    await this.batchWrite(doomed.map((i) => ({ DeleteRequest: { Key: { pk: i.pk as string, sk: i.sk as string } } })));
  }

  /** All items of partition `pk` whose sort key starts with `prefix`, every page. */
  private async queryPrefix(
    pk: string,
    prefix: string,
    options: { ConsistentRead?: boolean; ProjectionExpression?: string },
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
          ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
          ...options,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }
}

function fromServiceItem(item: ServiceItem): StoredService {
  return {
    meta: {
      name: item.name,
      methods: item.methods,
      instance_type: item.instanceType,
      endpoint_id: item.endpointId,
      revision: item.revision,
      public: item.public,
    },
    endpointGeneration: item.endpointGeneration,
    descriptorHash: item.descriptorHash,
  };
}

function fromEndpointItem(item: Pick<EndpointItem, (typeof ENDPOINT_SUMMARY_ATTRIBUTES)[number]>): EndpointSummary {
  return {
    id: item.id,
    address: item.address,
    protocolType: item.protocolType,
    services: item.services ?? {},
    createdAt: item.createdAt,
    generation: item.generation,
    descriptorHash: item.descriptorHash,
  };
}

function projection(attributes: readonly string[]) {
  return {
    ProjectionExpression: attributes.map((_, i) => `#a${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(attributes.map((a, i) => [`#a${i}`, a])),
  };
}

function splitChunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.byteLength; i += DESCRIPTOR_CHUNK_BYTES) out.push(bytes.subarray(i, i + DESCRIPTOR_CHUNK_BYTES));
  return out;
}

function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 1000)));
}
