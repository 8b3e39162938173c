/**
 * The stored shape of an invocation and of a keyed service instance, and the codec between those
 * items and the records the rest of the runtime uses. No DynamoDB calls here.
 *
 * One item per invocation (`inv#{id}` / `meta`) holds the target, the input, the journal (a list),
 * completions that arrived for it (maps by entry index: `c` for results the runtime produces —
 * child calls, GetState, cancel — and `a` for awakeable results, which anyone holding an id can
 * send and which are applied only to awakeable entries), the state of unkeyed invocations and the
 * result. One item per keyed service instance holds the lock + FIFO inbox (a list whose head is
 * the holder) and the state.
 */
import { TABLE_SCHEMA } from './table.js';
import type { EntryResult } from '../protocol/messages.js';

export const InvocationStatus = {
  /** A delayed send: created, starts at its due time. */
  Delayed: 'delayed',
  /** Waiting in a key's inbox for the lock. */
  Inboxed: 'inboxed',
  /** Runnable: an attempt runs (lease held) or is due (lease lapsed, retry time reached). */
  Invoked: 'invoked',
  /** Waiting for a completion (timer, child, awakeable). Keyed: keeps the lock. */
  Suspended: 'suspended',
  /** Terminal: the result is stored; nothing ever changes it again. */
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
  /** The deployment current when it was accepted; fixed once the invocation has journaled progress. */
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
  /** When something must happen next (the due index); undefined when only a completion can wake it. */
  dueAt: number | undefined;
  journal: JournalEntry[];
  /** Completions the runtime produced or received for journal entries (child results, GetState, cancel). */
  completions: Map<number, Completion>;
  /** Awakeable results by entry index; applied only where the journal has an awakeable entry. */
  awakeables: Map<number, Completion>;
  /** Unkeyed invocations only: their state lives with them. */
  state: StateMap;
  result?: InvocationResult;
  /** Attempts since the last progress (a suspension starts the count again). */
  attempts: number;
  createdAt: number;
  modifiedAt: number;
  /** TTL in seconds once completed. */
  expiresAt?: number;
  lastFailure?: FailureInfo;
  /** A graceful cancel was asked for and not applied yet: pending entries fail with CANCELLED at the next attempt. */
  cancelRequested: boolean;
  /** How many cancels were asked for, and up to which one they were applied. */
  cancelSeq: number;
  cancelDone: number;
  /** The deployment its journal was written against (undefined until it has journaled progress). */
  pinnedTo?: string;
}

export interface ServiceInstance {
  /** Head = lock holder; the rest wait in FIFO order. */
  queue: string[];
  state: StateMap;
}

// Stored shapes --------------------------------------------------------------------------------

type StoredState = [Uint8Array, Uint8Array][];
export interface StoredEntry {
  t: number;
  f: number;
  b: Uint8Array;
}
export type StoredCompletion = { k: 'v'; v: Uint8Array } | { k: 'e' } | { k: 'f'; c: number; m: string };

/** Attribute names, spelled once. */
export const ATTR = {
  status: 'status',
  epoch: 'epoch',
  lease: 'leaseUntil',
  due: 'dueAt',
  journal: 'journal',
  completions: 'c',
  awakeables: 'a',
  state: 's',
  queue: 'q',
  result: 'result',
  attempts: 'attempts',
  modified: 'modifiedAt',
  failure: 'lastFailure',
  cancel: 'cancel',
  cancelDone: 'cancelDone',
  endpoint: 'endpointId',
  pinned: TABLE_SCHEMA.pinnedIndex.partitionKey,
  expires: TABLE_SCHEMA.ttlAttribute,
  gsiPk: TABLE_SCHEMA.dueIndex.partitionKey,
  gsiSk: TABLE_SCHEMA.dueIndex.sortKey,
  /** A random token per write that creates or takes, to recognise our own write when its answer was lost. */
  token: 'tok',
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toStoredState(state: StateMap): StoredState {
  return [...state].map(([k, v]) => [encoder.encode(k), v]);
}

export function fromStoredState(s: unknown): StateMap {
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

function completionMap(raw: unknown): Map<number, Completion> {
  const out = new Map<number, Completion>();
  for (const [k, v] of Object.entries((raw as Record<string, StoredCompletion> | undefined) ?? {})) {
    out.set(Number(k.slice(1)), fromStoredCompletion(v));
  }
  return out;
}

/** Map attribute name of a completion (`i3`): map keys must be strings. */
export function completionName(index: number): string {
  return `i${index}`;
}

export function storedEntries(entries: readonly JournalEntry[]): StoredEntry[] {
  return entries.map((e) => ({ t: e.type, f: e.flags, b: e.body }));
}

export function recordFromItem(item: Record<string, unknown>): InvocationRecord {
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
    dueAt: item.dueAt as number | undefined,
    journal: ((item.journal as StoredEntry[] | undefined) ?? []).map((e) => ({ type: e.t, flags: e.f, body: bytes(e.b) })),
    completions: completionMap(item.c),
    awakeables: completionMap(item.a),
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
    cancelRequested: Number(item.cancel ?? 0) > Number(item.cancelDone ?? 0),
    cancelSeq: Number(item.cancel ?? 0),
    cancelDone: Number(item.cancelDone ?? 0),
    pinnedTo: item.pinnedTo as string | undefined,
  };
}

export function instanceFromItem(item: Record<string, unknown> | undefined): ServiceInstance {
  return { queue: (item?.q as string[] | undefined) ?? [], state: fromStoredState(item?.s) };
}

// The due index ----------------------------------------------------------------------------------

/**
 * Index partitions. Spread over shards: one constant key would funnel every hot-path write into
 * one index partition, whose write limit would cap the whole table.
 */
export const DUE_INDEX_SHARDS = 16;

export function dueIndexPk(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return `due#${h % DUE_INDEX_SHARDS}`;
}

/**
 * The latest due time stored (about year 33658): a sleep of any length, even one whose wake time
 * is past Number.MAX_SAFE_INTEGER or not a number at all, parks the invocation here. The bound
 * keeps the time a safe integer DynamoDB stores, and the index key at 15 digits (its sort order).
 */
export const MAX_DUE_AT = 999_999_999_999_999;

/** `dueAt` as stored: a whole number of ms in [0, MAX_DUE_AT]; NaN counts as "never". */
export function storedDueAt(dueAt: number): number {
  if (Number.isNaN(dueAt)) return MAX_DUE_AT;
  return Math.min(MAX_DUE_AT, Math.max(0, Math.floor(dueAt)));
}

export function dueSortKey(dueAt: number, id: string): string {
  return `${String(storedDueAt(dueAt)).padStart(15, '0')}#${id}`;
}

/** The due time encoded in an index sort key. */
export function dueFromSortKey(sk: string): number {
  return Number(sk.slice(0, 15));
}

/** The attributes that put an invocation into the due index at `dueAt`. */
export function dueAttributes(id: string, dueAt: number): Record<string, unknown> {
  return { [ATTR.due]: storedDueAt(dueAt), [ATTR.gsiPk]: dueIndexPk(id), [ATTR.gsiSk]: dueSortKey(dueAt, id) };
}

/** The stored item of a new invocation (no journal, no completions yet). */
export function newInvocationItem(
  inv: NewInvocation,
  now: number,
  at: { status: InvocationStatus; epoch: number; leaseUntil: number; dueAt: number; attempts: number; token: string },
): Record<string, unknown> {
  return {
    pk: `inv#${inv.id}`,
    sk: 'meta',
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
    ...dueAttributes(inv.id, at.dueAt),
    journal: [] as StoredEntry[],
    c: {},
    a: {},
    attempts: at.attempts,
    createdAt: now,
    modifiedAt: now,
    caller: inv.caller,
    idempotency: inv.idempotency,
    retentionSec: inv.retentionSec,
    [ATTR.token]: at.token,
  };
}
