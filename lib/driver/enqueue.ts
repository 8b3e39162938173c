/**
 * Starting an invocation that nobody drives inline: a child of Invoke, a one-way or delayed send,
 * an `Ingress/Invoke`. Children get deterministic ids (parent + entry index), so a retried
 * attempt that sends the same entry again creates nothing new.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { createHash } from 'node:crypto';
import { FencedError, InvalidArgumentError } from '../errors.js';
import type { ResolvedMethod, ResolvedService } from '../registry/types.js';
import { FencedStateError, type InvocationRecord, type InvocationStore, type NewInvocation } from '../store/invocation-store.js';
import type { Kicker } from './driver.js';
import { instanceKind } from './kinds.js';
import { checkInputSize } from './dispatcher.js';

/** The id of the invocation created by entry `index` of `parentId`. */
export function childInvocationId(parentId: string, index: number): string {
  return `inv_${createHash('sha256').update(`${parentId}#${index}`).digest().subarray(0, 16).toString('base64url')}`;
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
  return String((message as unknown as Record<string, unknown>)[method.keyField.localName] ?? '');
}

export type EnqueueSpec = Omit<NewInvocation, 'kind' | 'key'> & { target: ResolvedService; resolvedMethod: ResolvedMethod };

/**
 * Creates the invocation and makes it run: unkeyed → kicked; keyed → appended to the key's inbox
 * and kicked if it holds the lock. With `notBefore` in the future it is created delayed and a
 * timer starts it. Creating an id that exists already is a no-op (returns false).
 */
export async function enqueueInvocation(store: InvocationStore, kicker: Kicker, spec: EnqueueSpec, opts: { notBefore?: number; now?: number } = {}): Promise<Enqueued> {
  const now = opts.now ?? Date.now();
  checkInputSize(spec.input.byteLength);
  const kind = instanceKind(spec.target.meta.instance_type);
  const key = instanceKeyOf(spec.target, spec.resolvedMethod, spec.input, spec.id);
  const { target: _t, resolvedMethod: _m, ...rest } = spec;
  const inv: NewInvocation = { ...rest, kind, key };
  try {
    if (opts.notBefore !== undefined && opts.notBefore > now) {
      await store.create(inv, { take: false, leaseMs: 0, delayedUntil: opts.notBefore });
      await kicker.schedule(inv.id, opts.notBefore, { epoch: 0, kind: 'sleep' });
      return { created: true };
    }
    if (kind === 'unkeyed') {
      await store.create(inv, { take: false, leaseMs: 0 });
      await kicker.kick(inv.id);
      return { created: true };
    }
    await store.createQueued(inv);
  } catch (err) {
    // The id exists: the refused write carries the stored invocation (no extra read).
    if (err instanceof FencedStateError) return { created: false, existing: err.stored };
    if (err instanceof FencedError) return { created: false };
    throw err;
  }
  const instance = await store.getInstance(inv.service, key);
  if (instance.queue[0] === inv.id) await kicker.kick(inv.id);
  return { created: true };
}

export interface Enqueued {
  created: boolean;
  /** When not created: the invocation that already had this id (a retried send, a repeated key). */
  existing?: InvocationRecord;
}
