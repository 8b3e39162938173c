/**
 * The one interface the store sends DynamoDB document commands through, with two implementations:
 * the lean client (the default) and the AWS SDK's DynamoDBDocumentClient (RESTLESS_DYNAMODB_CLIENT=sdk).
 * Call sites build the usual @aws-sdk/lib-dynamodb commands; interceptors (metrics, fault
 * injection, traces) see every request on either, above the client's own retries.
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type BatchGetCommandOutput,
  type BatchWriteCommandOutput,
  type DeleteCommandOutput,
  type DynamoDBDocumentClient,
  type GetCommandOutput,
  type PutCommandOutput,
  type QueryCommandOutput,
  type ScanCommandOutput,
  type TransactGetCommandOutput,
  type TransactWriteCommandOutput,
  type UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { Operation } from './codec.js';

/** The SDK's command names, which hooks match on ('PutItemCommand', …). */
export type DynamoOperation = `${Operation}Command`;

export type DocumentCommand =
  | GetCommand
  | PutCommand
  | UpdateCommand
  | DeleteCommand
  | QueryCommand
  | ScanCommand
  | BatchGetCommand
  | BatchWriteCommand
  | TransactWriteCommand
  | TransactGetCommand;

/** A document-level output: what the DocumentClient returns (`$metadata.attempts` counts HTTP attempts). */
export interface DynamoOutput {
  $metadata: { httpStatusCode?: number; requestId?: string; attempts?: number; totalRetryDelay?: number };
  [field: string]: unknown;
}

/** One request as an interceptor sees it: document input (unmarshalled), which it may change before `next()`. */
export interface DynamoCall {
  readonly operation: DynamoOperation;
  input: Record<string, unknown>;
}

/**
 * Wraps every request, like an SDK middleware at the 'initialize' step: above retries, so an error
 * it throws reaches the caller as a retry-exhausted one would, and `next()` may be called more than
 * once (each call is one full send, with its own retries). The first interceptor added is the outermost.
 */
export type DynamoInterceptor = (call: DynamoCall, next: () => Promise<DynamoOutput>) => Promise<DynamoOutput>;

export interface DocumentClient {
  send(command: GetCommand): Promise<GetCommandOutput>;
  send(command: PutCommand): Promise<PutCommandOutput>;
  send(command: UpdateCommand): Promise<UpdateCommandOutput>;
  send(command: DeleteCommand): Promise<DeleteCommandOutput>;
  send(command: QueryCommand): Promise<QueryCommandOutput>;
  send(command: ScanCommand): Promise<ScanCommandOutput>;
  send(command: BatchGetCommand): Promise<BatchGetCommandOutput>;
  send(command: BatchWriteCommand): Promise<BatchWriteCommandOutput>;
  send(command: TransactWriteCommand): Promise<TransactWriteCommandOutput>;
  send(command: TransactGetCommand): Promise<TransactGetCommandOutput>;
  /** Adds an interceptor for every later request. */
  use(interceptor: DynamoInterceptor): void;
  /** Closes idle connections. */
  destroy(): void;
  readonly kind: 'lean' | 'sdk';
}

/** Found by class, not by name: bundlers may rename classes. */
const OPERATIONS = new Map<unknown, Operation>([
  [GetCommand, 'GetItem'],
  [PutCommand, 'PutItem'],
  [UpdateCommand, 'UpdateItem'],
  [DeleteCommand, 'DeleteItem'],
  [QueryCommand, 'Query'],
  [ScanCommand, 'Scan'],
  [BatchGetCommand, 'BatchGetItem'],
  [BatchWriteCommand, 'BatchWriteItem'],
  [TransactWriteCommand, 'TransactWriteItems'],
  [TransactGetCommand, 'TransactGetItems'],
]);

export class UnsupportedCommandError extends Error {
  override name = 'UnsupportedCommandError';
}

export function operationOf(command: DocumentCommand): Operation {
  const op = OPERATIONS.get(command.constructor);
  if (op === undefined) throw new UnsupportedCommandError(`not a supported @aws-sdk/lib-dynamodb command: ${command.constructor.name}`);
  return op;
}

/** Runs `interceptors` around `send`; the call's input is a shallow copy, so changes stay with this request. */
export function intercept(
  interceptors: readonly DynamoInterceptor[],
  operation: Operation,
  input: object,
  send: (input: Record<string, unknown>) => Promise<DynamoOutput>,
): Promise<DynamoOutput> {
  const call: DynamoCall = { operation: `${operation}Command`, input: { ...(input as Record<string, unknown>) } };
  const at = (i: number): Promise<DynamoOutput> => (i === interceptors.length ? send(call.input) : interceptors[i]!(call, () => at(i + 1)));
  return at(0);
}

type Ctor = new (input: Record<string, unknown>) => DocumentCommand;

/** The AWS SDK's DocumentClient behind the same interface (the escape hatch). */
export class SdkDocumentClient implements DocumentClient {
  readonly kind = 'sdk';
  private readonly interceptors: DynamoInterceptor[] = [];

  constructor(private readonly doc: DynamoDBDocumentClient) {}

  /** One implementation for every overload of DocumentClient.send (each command's output type). */
  readonly send = (async (command: DocumentCommand): Promise<DynamoOutput> => {
    const doc = this.doc as unknown as { send(c: DocumentCommand): Promise<DynamoOutput> };
    if (this.interceptors.length === 0) return doc.send(command);
    const ctor = command.constructor as Ctor;
    return intercept(this.interceptors, operationOf(command), command.input, (input) => doc.send(new ctor(input)));
  }) as DocumentClient['send'];

  use(interceptor: DynamoInterceptor): void {
    this.interceptors.push(interceptor);
  }

  destroy(): void {
    this.doc.destroy();
  }
}
