/**
 * What a failed DynamoDB write means. Every conditional write tells "the condition did not hold"
 * (with the stored item, so the caller needs no read) from "it collided with another transaction"
 * (retry) from "the item would be too large" (a terminal answer) from "DynamoDB is unavailable".
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { Code, FencedError, RestlessError } from '../errors.js';
import type { InvocationRecord } from './invocation-item.js';

/** DynamoDB could not be reached or refused for now (throttling, conflicts that kept coming): retry later. */
export class StoreUnavailableError extends RestlessError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(Code.Unavailable, message, options);
  }
}

/** A write would make an item larger than DynamoDB's 400 KB: retrying cannot help. */
export class ItemTooLargeError extends RestlessError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(Code.ResourceExhausted, message, { ...options, httpStatus: 413 });
  }
}

/** An invocation with this id exists already; carries it (the refused write returned it). */
export class InvocationExistsError extends RestlessError {
  constructor(
    readonly stored: InvocationRecord,
    options: { cause?: unknown } = {},
  ) {
    super(Code.AlreadyExists, `invocation ${stored.id} already exists`, options);
  }
}

/** A conditional write of an attempt lost: a newer attempt owns the invocation, or it finished. */
export class StaleAttemptError extends FencedError {
  constructor(
    message: string,
    readonly stored?: InvocationRecord,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export interface CancellationReason {
  code: string;
  message?: string;
  /** The item as it was, for a failed condition (ALL_OLD). */
  item?: Record<string, unknown>;
}

/** The per-item reasons of a cancelled transaction, or undefined for any other error. */
export function cancellationReasons(err: unknown): CancellationReason[] | undefined {
  if (!(err instanceof TransactionCanceledException) && (err as { name?: string })?.name !== 'TransactionCanceledException') return undefined;
  const reasons = (err as TransactionCanceledException).CancellationReasons ?? [];
  return reasons.map((r) => ({ code: r.Code ?? 'None', message: r.Message, item: r.Item ? unmarshall(r.Item) : undefined }));
}

/** The stored item of a failed condition of a single-item write (undefined: not a condition failure). */
export function conditionFailure(err: unknown): { item?: Record<string, unknown> } | undefined {
  if (err instanceof ConditionalCheckFailedException || (err as { name?: string })?.name === 'ConditionalCheckFailedException') {
    const raw = (err as ConditionalCheckFailedException).Item;
    return { item: raw ? unmarshall(raw) : undefined };
  }
  return undefined;
}

export function isItemTooLarge(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  return e?.name === 'ValidationException' && /item size|size has exceeded/i.test(e.message ?? '');
}

const TRANSIENT = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TransactionInProgressException',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
]);

/** A failure that says nothing about the data: the write may or may not have landed; try again later. */
export function isTransient(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (!e) return false;
  if (TRANSIENT.has(e.name ?? '') || TRANSIENT.has(e.code ?? '')) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** Whether a cancelled transaction failed only on conflicts with other transactions (retry it). */
export function onlyConflicts(reasons: CancellationReason[]): boolean {
  return reasons.some((r) => r.code === 'TransactionConflict') && reasons.every((r) => r.code === 'TransactionConflict' || r.code === 'None');
}

/** A short pause before retrying a conflicting transaction: 10 ms doubling, jittered. */
export function conflictBackoff(attempt: number): Promise<void> {
  const ms = Math.min(500, 10 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((r) => setTimeout(r, ms));
}

/** Turns a failure that is not a domain answer into the error a caller should see. */
export function storeFailure(err: unknown, what: string): unknown {
  if (err instanceof RestlessError) return err;
  if (isItemTooLarge(err)) return new ItemTooLargeError(`${what}: the item would exceed DynamoDB's 400 KB limit`, { cause: err });
  if (isTransient(err) || cancellationReasons(err)) return new StoreUnavailableError(`${what}: the table is busy or unavailable; try again`, { cause: err });
  return err;
}
