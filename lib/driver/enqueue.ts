/**
 * Building and starting invocations that nobody drives inline: a child of Invoke, a one-way or
 * delayed send, an `Ingress/Invoke`. Children get deterministic ids (parent + entry index), so a
 * retried attempt that sends the same entry again creates nothing new.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { ResolvedMethod, ResolvedService } from '../registry/types.js';
import {
  InvocationExistsError,
  type CallerLink,
  type IdempotencyLink,
  type InvocationRecord,
  type InvocationStore,
  type NewInvocation,
} from '../store/invocation-store.js';
import type { Kicker } from './ports.js';
import { instanceKind } from './instance-kind.js';
import { checkInputSize } from './limits.js';

/**
 * The id of the invocation created by entry `index` of `parent`. The parent's creation time is part
 * of it: an idempotent id can be used again once its retention passed, and the new invocation's
 * children must not meet the old one's.
 */
export function childInvocationId(parent: { id: string; createdAt: number }, index: number): string {
  return `inv_${createHash('sha256').update(`${parent.id}#${parent.createdAt}#${index}`).digest().subarray(0, 16).toString('base64url')}`;
}

/** Keys are the user's data and stored hashed, so they may be long; this is the documented limit. */
export const MAX_KEY_BYTES = 64 * 1024;

/** The value of the method's KEY field in a decoded input ('' without one): the one place it is read. */
export function keyFieldValue(method: ResolvedMethod, message: object): string {
  return method.keyField ? String((message as Record<string, unknown>)[method.keyField.localName] ?? '') : '';
}

/** The service instance key of a call: the KEY field (keyed), '' (singleton) or the id (unkeyed). */
export function instanceKeyOf(service: ResolvedService, method: ResolvedMethod, input: Uint8Array, id: string): string {
  const kind = instanceKind(service.meta.instance_type);
  if (kind === 'unkeyed') return id;
  if (kind === 'singleton') return '';
  if (!method.keyField) return '';
  let message;
  try {
    message = fromBinary(method.input, input);
  } catch (err) {
    throw new InvalidArgumentError(`the argument is not a valid ${method.input.typeName}: ${(err as Error).message}`);
  }
  const key = keyFieldValue(method, message);
  const size = Buffer.byteLength(key, 'utf8');
  if (size > MAX_KEY_BYTES) throw new InvalidArgumentError(`the key is ${size} bytes; keys of at most ${MAX_KEY_BYTES} bytes are accepted`);
  return key;
}

/** A new invocation of `method` with `input`, on the service's current deployment. */
export function newInvocationFor(
  target: ResolvedService,
  method: ResolvedMethod,
  opts: { id: string; input: Uint8Array; caller?: CallerLink; idempotency?: IdempotencyLink; retentionSec: number },
): NewInvocation {
  checkInputSize(opts.input.byteLength);
  return {
    id: opts.id,
    service: target.meta.name,
    method: method.name,
    key: instanceKeyOf(target, method, opts.input, opts.id),
    kind: instanceKind(target.meta.instance_type),
    input: opts.input,
    endpointId: target.endpoint.id,
    caller: opts.caller,
    idempotency: opts.idempotency,
    retentionSec: opts.retentionSec,
  };
}

export interface Started {
  created: boolean;
  /** When not created: the invocation that already had this id (a repeated idempotency key). */
  existing?: InvocationRecord;
}

/**
 * Creates the invocation (runnable, queued in its key's inbox, or delayed) and gives it a kick.
 * The accept write makes it due, so a lost kick only costs latency. Never reports success without
 * the stored record: conflicts are retried by the store, other refusals are errors.
 */
export async function startInvocation(
  store: InvocationStore,
  kicker: Kicker,
  inv: NewInvocation,
  opts: { notBefore?: number; now?: number } = {},
): Promise<Started> {
  const now = opts.now ?? Date.now();
  const delayed = opts.notBefore !== undefined && opts.notBefore > now;
  try {
    await store.accept(inv, delayed ? { kind: 'delayed', until: opts.notBefore! } : { kind: 'runnable' });
  } catch (err) {
    if (err instanceof InvocationExistsError) return { created: false, existing: err.stored };
    throw err;
  }
  const start = delayed ? kicker.schedule(inv.id, opts.notBefore!, { epoch: 0, kind: 'sleep' }) : kicker.kick(inv.id);
  await start.catch(() => undefined);
  return { created: true };
}
