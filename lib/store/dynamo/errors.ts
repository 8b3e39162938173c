/**
 * DynamoDB error answers → the AWS SDK's own exception classes, so `instanceof` and `name` checks
 * behave as with the SDK. Attribute values inside errors (a failed condition's `Item`, each
 * cancellation reason's `Item`) stay marshalled, as the SDK leaves them; binary becomes Uint8Array.
 */
import * as ddb from '@aws-sdk/client-dynamodb';
import { mapFromWire } from './codec.js';

export interface ErrorMetadata {
  httpStatusCode?: number;
  requestId?: string;
  attempts?: number;
  totalRetryDelay?: number;
}

type ExceptionClass = new (opts: { message: string; $metadata: ErrorMetadata } & Record<string, unknown>) => ddb.DynamoDBServiceException;

/** Every modelled DynamoDB exception, by its wire name (the SDK exports each under that name). */
const MODELLED: ReadonlyMap<string, ExceptionClass> = new Map(
  Object.entries(ddb as Record<string, unknown>).filter(
    (entry): entry is [string, ExceptionClass] => typeof entry[1] === 'function' && entry[1].prototype instanceof ddb.DynamoDBServiceException,
  ),
);

/** `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException` → `ConditionalCheckFailedException`. */
export function errorName(type: string): string {
  const afterHash = type.slice(type.lastIndexOf('#') + 1);
  const colon = afterHash.indexOf(':');
  return colon === -1 ? afterHash : afterHash.slice(0, colon);
}

/** The exception for an error answer (`body` is the response text). */
export function errorFromResponse(status: number, headers: Record<string, string | string[] | undefined>, body: string): ddb.DynamoDBServiceException {
  let parsed: Record<string, unknown> = {};
  try {
    const json: unknown = JSON.parse(body);
    if (typeof json === 'object' && json !== null) parsed = json as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const header = headers['x-amzn-errortype'];
  const type = (typeof header === 'string' ? header : undefined) ?? (parsed.__type as string | undefined) ?? (parsed.code as string | undefined) ?? '';
  const name = errorName(type) || (status >= 500 ? 'InternalServerError' : `HTTP${status}`);
  const message = String(parsed.message ?? parsed.Message ?? name);
  const $metadata: ErrorMetadata = { httpStatusCode: status, requestId: first(headers['x-amzn-requestid']) };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) if (k !== '__type' && k !== 'code' && k !== 'message') fields[k] = v;
  if (fields.Item !== undefined) mapFromWire(fields.Item);
  if (Array.isArray(fields.CancellationReasons)) for (const r of fields.CancellationReasons as { Item?: unknown }[]) if (r?.Item) mapFromWire(r.Item);
  const Modelled = MODELLED.get(name);
  const err = Modelled
    ? new Modelled({ ...fields, message, $metadata })
    : new ddb.DynamoDBServiceException({ name, $fault: status >= 500 ? 'server' : 'client', message, $metadata });
  // As the SDK does: fields the class does not model are kept on the error too.
  const target = err as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) if (target[k] === undefined || target[k] === '') target[k] = v;
  return err;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A connection or answer that took too long (the SDK's name for it, which the store treats as transient). */
export class DynamoTimeoutError extends Error {
  override name = 'TimeoutError';
}
