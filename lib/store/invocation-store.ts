/**
 * Invocations in DynamoDB. Only this file and the other lib/store files speak DynamoDB.
 *
 * One item per invocation (`inv#{id}` / `meta`) holds the target, the input, the journal (a list),
 * completions that arrived for it (a map by entry index: whoever produces a completion writes one
 * attribute, never the journal), the state of unkeyed invocations and the result. One item per
 * keyed service instance (`obj#{service}#{key}`) holds the lock + FIFO inbox (a list whose head is
 * the holder) and the state. Keeping each in one item makes every step a single conditional write
 * (no read-modify-write), at the price of DynamoDB's 400 KB item limit per invocation and per key.
 *
 * Fencing: every write of an attempt is conditional on `epoch = :epoch`; taking the invocation
 * bumps the epoch, so a stale attempt can never change the journal, the state or the result.
 */
import { ConditionalCheckFailedException, TransactionCanceledException, ReturnValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { FencedError, NotFoundError } from '../errors.js';
import type { EntryResult } from '../protocol/messages.js';
import { isExpired, keys, TABLE_SCHEMA, type TableClients } from './table.js';

export const InvocationStatus = {
  /** A delayed send: created, starts at its due time (a timer enqueues it). */
  Delayed: 'delayed',
  /** Waiting in a key's inbox for the lock. */
  Inboxed: 'inboxed',
  /** Runnable: an attempt runs or is due (retry). */
  Invoked: 'invoked',
  /** Waiting for a completion (timer, child, awakeable). Keyed: keeps the lock. */
  Suspended: 'suspended',
  Completed: 'completed',
} as const;
export type InvocationStatus = (typeof InvocationStatus)[keyof typeof InvocationStatus];

export type InstanceKind = 'keyed' | 'unkeyed' | 'singleton';

/** One stored journal entry: the message as the endpoint sent it (flags without the ack bit). */
export interface JournalEntry {
  type: number;
  flags: number;
  body: Uint8Array;
}

/** A completion of a journal entry: the protocol's entry result (value, empty or failure). */
export type Completion = EntryResult;

export type InvocationResult = { kind: 'value'; value: Uint8Array } | { kind: 'failure'; code: number; message: string };

export type StateMap = Map<string, Uint8Array>;

export interface CallerLink {
  invocationId: string;
  entryIndex: number;
}

export interface IdempotencyLink {
  scope: string;
  requestHash: string;
  retentionSec: number;
}

export interface FailureInfo {
  code: number;
  message: string;
  at: number;
}

export interface NewInvocation {
  id: string;
  service: string;
  method: string;
  /** Service instance key: the key for keyed services, '' for singletons, the id for unkeyed. */
  key: string;
  kind: InstanceKind;
  input: Uint8Array;
  endpointId: string;
  caller?: CallerLink;
  idempotency?: IdempotencyLink;
  /** How long the result is kept after completion, seconds. */
  retentionSec: number;
}

export interface InvocationRecord extends NewInvocation {
  status: InvocationStatus;
  epoch: number;
  /** ms since the epoch; an attempt holding a lease past this is presumed dead. */
  leaseUntil: number;
  journal: JournalEntry[];
  completions: Map<number, Completion>;
  /** Unkeyed invocations only: their state lives with them. */
  state: StateMap;
  result?: InvocationResult;
  attempts: number;
  createdAt: number;
  modifiedAt: number;
  /** TTL in seconds once completed. */
  expiresAt?: number;
  lastFailure?: FailureInfo;
  /** A graceful cancel was asked for: pending entries fail with CANCELLED at the next attempt. */
  cancelRequested: boolean;
}

export interface ServiceInstance {
  /** Head = lock holder; the rest wait in FIFO order. */
  queue: string[];
  state: StateMap;
}


// Stored shapes ------------------------------------------------------------------------------

type StoredState = [Uint8Array, Uint8Array][];
interface StoredEntry {
  t: number;
  f: number;
  b: Uint8Array;
}
type StoredCompletion = { k: 'v'; v: Uint8Array } | { k: 'e' } | { k: 'f'; c: number; m: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toStoredState(state: StateMap): StoredState {
  return [...state].map(([k, v]) => [encoder.encode(k), v]);
}

function fromStoredState(s: unknown): StateMap {
  const out: StateMap = new Map();
  if (!Array.isArray(s)) return out;
  for (const pair of s as StoredState) out.set(decoder.decode(pair[0]), bytes(pair[1]));
  return out;
}

function bytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v === undefined || v === null) return new Uint8Array(0);
  throw new TypeError('stored value is not binary');
}

export function toStoredCompletion(c: Completion): StoredCompletion {
  switch (c.kind) {
    case 'value':
      return { k: 'v', v: c.value };
    case 'empty':
      return { k: 'e' };
    case 'failure':
      return { k: 'f', c: c.code, m: c.message };
  }
}

function fromStoredCompletion(s: StoredCompletion): Completion {
  switch (s.k) {
    case 'v':
      return { kind: 'value', value: bytes(s.v) };
    case 'e':
      return { kind: 'empty' };
    case 'f':
      return { kind: 'failure', code: s.c, message: s.m };
  }
}


function recordFromItem(item: Record<string, unknown>): InvocationRecord {
  const completions = new Map<number, Completion>();
  for (const [k, v] of Object.entries((item.c as Record<string, StoredCompletion> | undefined) ?? {})) {
    completions.set(Number(k.slice(1)), fromStoredCompletion(v));
  }
  const result = item.result as StoredCompletion | undefined;
  return {
    id: item.id as string,
    service: item.service as string,
    method: item.method as string,
    key: item.key as string,
    kind: item.kind as InstanceKind,
    input: bytes(item.input),
    endpointId: item.endpointId as string,
    status: item.status as InvocationStatus,
    epoch: item.epoch as number,
    leaseUntil: (item.leaseUntil as number | undefined) ?? 0,
    journal: ((item.journal as StoredEntry[] | undefined) ?? []).map((e) => ({ type: e.t, flags: e.f, body: bytes(e.b) })),
    completions,
    state: fromStoredState(item.s),
    result: result ? (fromStoredCompletion(result) as InvocationResult) : undefined,
    attempts: (item.attempts as number | undefined) ?? 0,
    createdAt: item.createdAt as number,
    modifiedAt: item.modifiedAt as number,
    expiresAt: item.expiresAt as number | undefined,
    lastFailure: item.lastFailure as FailureInfo | undefined,
    caller: item.caller as CallerLink | undefined,
    idempotency: item.idempotency as IdempotencyLink | undefined,
    retentionSec: (item.retentionSec as number | undefined) ?? 0,
    cancelRequested: item.cancel === true,
  };
}

/** Map attribute name of a completion (`i3`): map keys must be strings. */
function completionName(index: number): string {
  return `i${index}`;
}

function storedEntries(entries: JournalEntry[]): StoredEntry[] {
  return entries.map((e) => ({ t: e.type, f: e.flags, b: e.body }));
}

/**
 * The sweep's index: runnable invocations carry `gsi1pk = 'lease'` and `gsi1sk = <lease end>#id`
 * in the sparse `due` GSI, so a lease that lapsed (a Lambda that died mid-attempt, a kick that got
 * lost) is found with one Query. Completed and suspended invocations leave the index (timers and
 * completions wake those).
 */
export const LEASE_INDEX_SHARDS = 16;

/**
 * The index partition of an invocation. Spread over shards: one constant key would funnel every
 * hot-path write into one index partition, whose write limit would cap the whole table.
 */
export function leaseIndexPk(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return `lease#${h % LEASE_INDEX_SHARDS}`;
}
export function leaseSortKey(leaseUntil: number, id: string): string {
  return `${String(Math.max(0, Math.floor(leaseUntil))).padStart(15, '0')}#${id}`;
}

/**
 * An id may be created when it is free, or when it held a finished invocation whose retention
 * has passed (idempotency keys can be reused after expiry; DynamoDB's TTL deletes lazily).
 */
const CREATE_CONDITION = 'attribute_not_exists(pk) OR (#status = :completed AND #expires <= :nowSec)';
const CREATE_NAMES = { '#status': 'status', '#expires': TABLE_SCHEMA.ttlAttribute };
function createValues(now: number): Record<string, unknown> {
  return { ':completed': InvocationStatus.Completed, ':nowSec': Math.floor(now / 1000) };
}

/** The stored item of a new invocation (no journal, no completions yet). */
function newInvocationItem(inv: NewInvocation, now: number, at: { status: InvocationStatus; epoch: number; leaseUntil: number; indexedAt: number; attempts: number }) {
  return {
    ...keys.invocation(inv.id),
    id: inv.id,
    service: inv.service,
    method: inv.method,
    key: inv.key,
    kind: inv.kind,
    input: inv.input,
    endpointId: inv.endpointId,
    status: at.status,
    epoch: at.epoch,
    leaseUntil: at.leaseUntil,
    [TABLE_SCHEMA.dueIndex.partitionKey]: leaseIndexPk(inv.id),
    [TABLE_SCHEMA.dueIndex.sortKey]: leaseSortKey(at.indexedAt, inv.id),
    journal: [] as StoredEntry[],
    c: {},
    attempts: at.attempts,
    createdAt: now,
    modifiedAt: now,
    caller: inv.caller,
    idempotency: inv.idempotency,
    retentionSec: inv.retentionSec,
  };
}

/** Options of the write that ends an attempt. */
export interface AttemptWrite {
  /** Entries appended to the journal (index = current length + i). */
  append: JournalEntry[];
  /** Completions produced by this attempt (e.g. GetStateKeys answered from the state). */
  completions: Map<number, Completion>;
  /** The state after this attempt, when it changed. */
  state?: StateMap;
}

export class InvocationStore {
  constructor(
    private readonly tables: TableClients,
    private readonly now: () => number = Date.now,
  ) {}

  private get table(): string {
    return this.tables.tableName;
  }

  /**
   * The accept write. With `take`, the invocation is created already taken (epoch 1, leased) so
   * the caller can drive it without another write. Fails with FencedError if the id exists.
   */
  async create(inv: NewInvocation, opts: { take: boolean; leaseMs: number; delayedUntil?: number }): Promise<InvocationRecord> {
    const now = this.now();
    const status = opts.delayedUntil !== undefined ? InvocationStatus.Delayed : InvocationStatus.Invoked;
    const leaseUntil = opts.take ? now + opts.leaseMs : (opts.delayedUntil ?? 0);
    const item = newInvocationItem(inv, now, { status, epoch: opts.take ? 1 : 0, leaseUntil, indexedAt: opts.take || opts.delayedUntil !== undefined ? leaseUntil : now, attempts: opts.take ? 1 : 0 });
    await this.put(item, CREATE_CONDITION, createValues(now));
    return recordFromItem(item);
  }

  /** The accept write of a keyed invocation: the item and its place in the key's inbox, atomically. */
  async createQueued(inv: NewInvocation): Promise<void> {
    const now = this.now();
    const input: TransactWriteCommandInput = {
      TransactItems: [
        {
          Put: {
            TableName: this.table,
            // Indexed so the sweep finds a head of inbox whose kick got lost.
            Item: newInvocationItem(inv, now, { status: InvocationStatus.Inboxed, epoch: 0, leaseUntil: 0, indexedAt: now, attempts: 0 }),
            ConditionExpression: CREATE_CONDITION,
            ExpressionAttributeNames: CREATE_NAMES,
            ExpressionAttributeValues: createValues(now),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        { Update: this.joinInbox(inv.service, inv.key, inv.id) },
      ],
    };
    try {
      await this.tables.doc.send(new TransactWriteCommand(input));
    } catch (err) {
      if (err instanceof TransactionCanceledException) {
        const old = err.CancellationReasons?.[0]?.Item;
        if (old) throw new FencedStateError(`invocation ${inv.id} already exists`, recordFromItem(unmarshall(old)), err);
        throw new FencedError(`invocation ${inv.id} could not be enqueued`, { cause: err });
      }
      throw err;
    }
  }

  /** Appends `id` to the key's inbox (its head holds the lock). */
  private joinInbox(service: string, key: string, id: string) {
    return {
      TableName: this.table,
      Key: keys.instance(service, key),
      UpdateExpression: 'SET #q = list_append(if_not_exists(#q, :empty), :me)',
      ExpressionAttributeNames: { '#q': 'q' },
      ExpressionAttributeValues: { ':empty': [], ':me': [id] },
    };
  }

  async get(id: string): Promise<InvocationRecord | undefined> {
    const res = await this.tables.doc.send(new GetCommand({ TableName: this.table, Key: keys.invocation(id), ConsistentRead: true }));
    if (!res.Item || isExpired(res.Item, this.now())) return undefined;
    return recordFromItem(res.Item);
  }

  /**
   * Takes the invocation for a new attempt: bumps the epoch and sets a lease. Only a runnable
   * invocation whose previous lease has lapsed can be taken (or any, with `steal`: the caller knows
   * the previous attempt is over, e.g. it is that attempt).
   */
  async take(id: string, leaseMs: number, opts: { fromStatuses?: InvocationStatus[]; steal?: boolean } = {}): Promise<InvocationRecord> {
    const now = this.now();
    const statuses = opts.fromStatuses ?? [InvocationStatus.Invoked, InvocationStatus.Suspended];
    const names = { '#status': 'status', '#epoch': 'epoch', '#lease': 'leaseUntil', '#attempts': 'attempts', '#modified': 'modifiedAt', '#gpk': TABLE_SCHEMA.dueIndex.partitionKey, '#gsk': TABLE_SCHEMA.dueIndex.sortKey };
    const values: Record<string, unknown> = { ':one': 1, ':now': now, ':lease': now + leaseMs, ':invoked': InvocationStatus.Invoked, ':gpk': leaseIndexPk(id), ':gsk': leaseSortKey(now + leaseMs, id) };
    statuses.forEach((s, i) => (values[`:s${i}`] = s));
    const isRunnable = `#status IN (${statuses.map((_, i) => `:s${i}`).join(', ')})`;
    const leaseLapsed = '#lease < :now';
    try {
      const res = await this.tables.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.invocation(id),
          UpdateExpression: 'SET #epoch = #epoch + :one, #lease = :lease, #status = :invoked, #modified = :now, #gpk = :gpk, #gsk = :gsk ADD #attempts :one',
          ConditionExpression: opts.steal ? `attribute_exists(pk) AND ${isRunnable}` : `attribute_exists(pk) AND ${isRunnable} AND ${leaseLapsed}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: ReturnValue.ALL_NEW,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return recordFromItem(res.Attributes as Record<string, unknown>);
    } catch (err) {
      throw this.conditionError(err, id, 'take');
    }
  }

  /**
   * Persists an attempt's progress and, optionally, ends it in a new status. Conditional on the
   * attempt's epoch. Keyed state goes to the instance item in the same transaction.
   */
  async writeAttempt(
    rec: Pick<InvocationRecord, 'id' | 'epoch' | 'kind' | 'service' | 'key'>,
    write: AttemptWrite,
    end:
      | { status: typeof InvocationStatus.Suspended; leaseUntil: number }
      /** Back to the inbox: taken out of turn (a sweep or kick that reached a waiter). */
      | { status: typeof InvocationStatus.Inboxed; leaseUntil: number }
      | { status: typeof InvocationStatus.Invoked; leaseUntil: number; failure?: FailureInfo; keepIndex?: boolean }
      | { status: typeof InvocationStatus.Completed; result: InvocationResult; retentionSec: number; releaseLock: boolean },
  ): Promise<{ completions?: Map<number, Completion>; cancelRequested?: boolean }> {
    const now = this.now();
    const names: Record<string, string> = { '#epoch': 'epoch', '#modified': 'modifiedAt', '#status': 'status' };
    const values: Record<string, unknown> = { ':epoch': rec.epoch, ':now': now, ':status': end.status };
    const sets = ['#modified = :now', '#status = :status'];
    const removes: string[] = [];
    // A finished invocation keeps only its result: the journal, its completions and unkeyed
    // state are dropped (smaller items to retain, cheaper writes), as the 0.x runtime did.
    const finishing = end.status === InvocationStatus.Completed;
    if (finishing) {
      names['#journal'] = 'journal';
      names['#c'] = 'c';
      names['#s'] = 's';
      removes.push('#journal', '#c', '#s');
    } else if (write.append.length > 0) {
      names['#journal'] = 'journal';
      sets.push('#journal = list_append(#journal, :append)');
      values[':append'] = storedEntries(write.append);
    }
    let i = 0;
    for (const [index, c] of finishing ? [] : write.completions) {
      names[`#c`] = 'c';
      names[`#ci${i}`] = completionName(index);
      values[`:ci${i}`] = toStoredCompletion(c);
      sets.push(`#c.#ci${i} = if_not_exists(#c.#ci${i}, :ci${i})`);
      i++;
    }
    if (write.state && rec.kind === 'unkeyed' && !finishing) {
      names['#s'] = 's';
      values[':s'] = toStoredState(write.state);
      sets.push('#s = :s');
    }
    names['#lease'] = 'leaseUntil';
    names['#gpk'] = TABLE_SCHEMA.dueIndex.partitionKey;
    names['#gsk'] = TABLE_SCHEMA.dueIndex.sortKey;
    if (end.status === InvocationStatus.Invoked) {
      if (!end.keepIndex) {
        values[':gpk'] = leaseIndexPk(rec.id);
        values[':gsk'] = leaseSortKey(end.leaseUntil, rec.id);
        sets.push('#gpk = :gpk', '#gsk = :gsk');
      } else {
        delete names['#gpk'];
        delete names['#gsk'];
      }
    } else {
      removes.push('#gpk', '#gsk');
    }
    if (end.status === InvocationStatus.Completed) {
      names['#result'] = 'result';
      names['#expires'] = TABLE_SCHEMA.ttlAttribute;
      values[':result'] = toStoredCompletion(end.result);
      values[':expires'] = Math.ceil((now + end.retentionSec * 1000) / 1000);
      sets.push('#result = :result', '#expires = :expires');
      removes.push('#lease');
    } else {
      values[':lease'] = end.leaseUntil;
      sets.push('#lease = :lease');
      if (end.status === InvocationStatus.Invoked && end.failure) {
        names['#failure'] = 'lastFailure';
        values[':failure'] = end.failure;
        sets.push('#failure = :failure');
      }
      // A suspension is progress: the retry count (and so the backoff and max attempts) starts
      // again when the invocation resumes, as the 0.x invoker did.
      if (end.status === InvocationStatus.Suspended) {
        names['#attempts'] = 'attempts';
        values[':zero'] = 0;
        sets.push('#attempts = :zero');
      }
    }
    const update = {
      TableName: this.table,
      Key: keys.invocation(rec.id),
      UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: '#epoch = :epoch',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    const keyedState = rec.kind !== 'unkeyed' && write.state !== undefined;
    const release = end.status === InvocationStatus.Completed && end.releaseLock;
    if (!keyedState && !release) {
      try {
        // A suspension reads back the completions: one may have arrived while the attempt ran.
        const suspending = end.status === InvocationStatus.Suspended;
        const res = await this.tables.doc.send(new UpdateCommand({ ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD', ...(suspending ? { ReturnValues: ReturnValue.ALL_NEW } : {}) }));
        if (!suspending || !res.Attributes) return {};
        const after = recordFromItem(res.Attributes);
        return { completions: after.completions, cancelRequested: after.cancelRequested };
      } catch (err) {
        throw this.conditionError(err, rec.id, 'write attempt');
      }
    }
    // Keyed: state and lock live on the instance item; both change atomically with the journal.
    const objSets: string[] = [];
    const objRemoves: string[] = [];
    const objNames: Record<string, string> = { '#q': 'q' };
    const objValues: Record<string, unknown> = { ':me': rec.id };
    if (write.state) {
      objNames['#s'] = 's';
      objValues[':s'] = toStoredState(write.state);
      objSets.push('#s = :s');
    }
    if (release) objRemoves.push('#q[0]');
    try {
      await this.tables.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: update },
            {
              Update: {
                TableName: this.table,
                Key: keys.instance(rec.service, rec.key),
                UpdateExpression: [objSets.length ? `SET ${objSets.join(', ')}` : '', objRemoves.length ? `REMOVE ${objRemoves.join(', ')}` : ''].join(' ').trim(),
                ConditionExpression: '#q[0] = :me',
                ExpressionAttributeNames: objNames,
                ExpressionAttributeValues: objValues,
              },
            },
          ],
        }),
      );
    } catch (err) {
      if (err instanceof TransactionCanceledException) {
        const reasons = err.CancellationReasons ?? [];
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) throw new FencedError(`invocation ${rec.id}: a newer attempt owns it or it lost its key lock`, { cause: err });
        const validation = reasons.find((r) => r.Code === 'ValidationError');
        if (validation) throw Object.assign(new Error(validation.Message ?? 'validation error'), { name: 'ValidationException', cause: err });
      }
      throw err;
    }
    if (end.status !== InvocationStatus.Suspended) return {};
    const after = await this.get(rec.id);
    return { completions: after?.completions, cancelRequested: after?.cancelRequested };
  }

  /**
   * Stores a completion for an entry (timer, child result, awakeable). The first one wins; a
   * completed invocation takes none. Returns false when it was not stored.
   */
  async addCompletion(id: string, index: number, completion: Completion): Promise<boolean> {
    try {
      await this.tables.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.invocation(id),
          UpdateExpression: 'SET #c.#i = :c, #modified = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#c.#i) AND #status <> :completed',
          ExpressionAttributeNames: { '#c': 'c', '#i': completionName(index), '#status': 'status', '#modified': 'modifiedAt' },
          ExpressionAttributeValues: { ':c': toStoredCompletion(completion), ':completed': InvocationStatus.Completed, ':now': this.now() },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * Ends an invocation from outside (kill): bumps the epoch, which fences any running attempt,
   * and stores the result. Returns the record before the change, or undefined if it had already
   * finished (a no-op).
   */
  async forceComplete(id: string, result: InvocationResult): Promise<InvocationRecord | undefined> {
    const now = this.now();
    return this.updateUnlessCompleted(id, ReturnValue.ALL_OLD, {
      UpdateExpression: 'SET #epoch = #epoch + :one, #status = :completed, #result = :result, #modified = :now, #expires = #retention + :nowSec REMOVE #lease, #gpk, #gsk',
      ExpressionAttributeNames: { '#epoch': 'epoch', '#result': 'result', '#modified': 'modifiedAt', '#expires': TABLE_SCHEMA.ttlAttribute, '#retention': 'retentionSec', '#lease': 'leaseUntil', '#gpk': TABLE_SCHEMA.dueIndex.partitionKey, '#gsk': TABLE_SCHEMA.dueIndex.sortKey },
      ExpressionAttributeValues: { ':one': 1, ':result': toStoredCompletion(result), ':now': now, ':nowSec': Math.ceil(now / 1000) },
    });
  }

  /**
   * One conditional update of an invocation that has not finished. Returns the record (as asked
   * by `returnValues`), undefined when it had finished, NotFoundError when it does not exist.
   */
  private async updateUnlessCompleted(
    id: string,
    returnValues: ReturnValue,
    update: { UpdateExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, unknown> },
  ): Promise<InvocationRecord | undefined> {
    try {
      const res = await this.tables.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.invocation(id),
          UpdateExpression: update.UpdateExpression,
          ConditionExpression: 'attribute_exists(pk) AND #status <> :completed',
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#status': 'status' },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':completed': InvocationStatus.Completed },
          ReturnValues: returnValues,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return recordFromItem(res.Attributes as Record<string, unknown>);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        if (!err.Item) throw new NotFoundError(`invocation ${id} not found`, { cause: err });
        return undefined;
      }
      throw err;
    }
  }

  /**
   * A delayed invocation becomes due: unkeyed ones become runnable, keyed ones join their key's
   * inbox (atomically with the status change, so it happens once). Returns the new status, or
   * undefined if it was not delayed any more.
   */
  async activateDelayed(rec: Pick<InvocationRecord, 'id' | 'kind' | 'service' | 'key'>): Promise<InvocationStatus | undefined> {
    const status = rec.kind === 'unkeyed' ? InvocationStatus.Invoked : InvocationStatus.Inboxed;
    const update = {
      TableName: this.table,
      Key: keys.invocation(rec.id),
      UpdateExpression: 'SET #status = :status, #lease = :zero, #modified = :now, #gsk = :gsk',
      ConditionExpression: '#status = :delayed',
      ExpressionAttributeNames: { '#status': 'status', '#lease': 'leaseUntil', '#modified': 'modifiedAt', '#gsk': TABLE_SCHEMA.dueIndex.sortKey },
      ExpressionAttributeValues: { ':status': status, ':delayed': InvocationStatus.Delayed, ':zero': 0, ':now': this.now(), ':gsk': leaseSortKey(this.now(), rec.id) },
    };
    try {
      if (rec.kind === 'unkeyed') {
        await this.tables.doc.send(new UpdateCommand(update));
      } else {
        await this.tables.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Update: update },
              { Update: this.joinInbox(rec.service, rec.key, rec.id) },
            ],
          }),
        );
      }
      return status;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || err instanceof TransactionCanceledException) return undefined;
      throw err;
    }
  }

  /** Invocations whose lease ended before `beforeMs` (oldest first per shard): candidates for the sweep. */
  async lapsedLeases(beforeMs: number, limitPerShard = 100): Promise<string[]> {
    const shards = Array.from({ length: LEASE_INDEX_SHARDS }, (_, i) => `lease#${i}`);
    const pages = await Promise.all(
      shards.map((shard) =>
        this.tables.doc.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: TABLE_SCHEMA.dueIndex.name,
            KeyConditionExpression: '#gpk = :gpk AND #gsk < :before',
            ExpressionAttributeNames: { '#gpk': TABLE_SCHEMA.dueIndex.partitionKey, '#gsk': TABLE_SCHEMA.dueIndex.sortKey },
            ExpressionAttributeValues: { ':gpk': shard, ':before': leaseSortKey(beforeMs, '') },
            Limit: limitPerShard,
          }),
        ),
      ),
    );
    return pages.flatMap((res) => (res.Items ?? []).map((item) => (item.pk as string).slice('inv#'.length)));
  }

  /** The cancel was applied to the entries pending at the time: later entries run normally. */
  async clearCancel(id: string): Promise<void> {
    await this.tables.doc.send(new UpdateCommand({ TableName: this.table, Key: keys.invocation(id), UpdateExpression: 'REMOVE #cancel', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: { '#cancel': 'cancel' } })).catch((err) => {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    });
  }

  /** Marks a running or suspended invocation for a graceful cancel. Returns it, or undefined if finished. */
  async requestCancel(id: string): Promise<InvocationRecord | undefined> {
    return this.updateUnlessCompleted(id, ReturnValue.ALL_NEW, {
      UpdateExpression: 'SET #cancel = :yes, #modified = :now',
      ExpressionAttributeNames: { '#cancel': 'cancel', '#modified': 'modifiedAt' },
      ExpressionAttributeValues: { ':yes': true, ':now': this.now() },
    });
  }

  /** The key's lock holder, inbox and state (strongly consistent). */
  async getInstance(service: string, key: string): Promise<ServiceInstance> {
    const res = await this.tables.doc.send(new GetCommand({ TableName: this.table, Key: keys.instance(service, key), ConsistentRead: true }));
    return { queue: (res.Item?.q as string[] | undefined) ?? [], state: fromStoredState(res.Item?.s) };
  }

  /**
   * Drops `id` from the key's inbox if it is at `position` (a holder that is already completed, or
   * a killed waiter). Returns the queue after the change, or undefined when it did not match.
   */
  async removeFromQueue(service: string, key: string, id: string, position: number): Promise<string[] | undefined> {
    try {
      const res = await this.tables.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.instance(service, key),
          UpdateExpression: `REMOVE #q[${position}]`,
          ConditionExpression: `#q[${position}] = :me`,
          ExpressionAttributeNames: { '#q': 'q' },
          ExpressionAttributeValues: { ':me': id },
          ReturnValues: ReturnValue.ALL_NEW,
        }),
      );
      return (res.Attributes?.q as string[] | undefined) ?? [];
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  private async put(item: Record<string, unknown>, condition: string, values: Record<string, unknown>): Promise<void> {
    try {
      await this.tables.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: condition, ExpressionAttributeNames: CREATE_NAMES, ExpressionAttributeValues: values, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
    } catch (err) {
      throw this.conditionError(err, item.id as string, 'create');
    }
  }

  private conditionError(err: unknown, id: string, what: string): unknown {
    if (!(err instanceof ConditionalCheckFailedException)) return err;
    if (!err.Item) return new NotFoundError(`invocation ${id} not found`, { cause: err });
    const stored = recordFromItem(unmarshall(err.Item));
    return new FencedStateError(`${what} of invocation ${id} refused (status ${stored.status}, epoch ${stored.epoch})`, stored, err);
  }
}

/** A conditional write lost; carries the stored record (ALL_OLD, so the conflict costs no read). */
export class FencedStateError extends FencedError {
  constructor(
    message: string,
    readonly stored: InvocationRecord,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}
