/**
 * Deployment rules, as plain functions and typed errors. A deployment is one registered address
 * (an h2c URI, or a Lambda ARN) and is immutable: invocations stay pinned to the deployment they
 * started on, so new code goes to a new address and the registry checks that the new revision of
 * each service can take over new calls without silently changing what callers rely on.
 */
import { ConflictError } from '../errors.js';
import type { EndpointAddress } from '../endpoint/types.js';
import type { CompiledService } from './schema.js';
import type { ServiceMetadata } from './types.js';

/** Admin API code: the deployment already exists (register with force to replace it). */
export const ENDPOINT_EXISTS_RESTATE_CODE = 'META0004';
/** Admin API code: an incompatible service change without force. */
export const INCOMPATIBLE_CHANGE_RESTATE_CODE = 'META0006';

/** The same address is registered again without force. */
export class DeploymentExistsError extends ConflictError {
  constructor(readonly endpointId: string) {
    super(
      `Deployment '${endpointId}' is already registered at this address. Deployments are immutable: serve new code at a new address ` +
        '(a new port or path, a new Lambda version) and register that, or register with "force": true to replace this one in place ' +
        '(unsafe: invocations pinned to it resume on the new code)',
      { restateCode: ENDPOINT_EXISTS_RESTATE_CODE },
    );
  }
}

/** A new revision would change a service in a way callers or keyed state depend on. */
export class IncompatibleChangeError extends ConflictError {
  constructor(readonly changes: readonly string[]) {
    super(`Incompatible change: ${changes.join('; ')}. Register with "force": true to allow it`, { restateCode: INCOMPATIBLE_CHANGE_RESTATE_CODE });
  }
}

/** Deleting a deployment that unfinished invocations are pinned to, without force. */
export class DeploymentInUseError extends ConflictError {
  constructor(
    readonly endpointId: string,
    readonly pinned: number,
  ) {
    super(
      `Deployment '${endpointId}' has ${pinned} unfinished invocation${pinned === 1 ? '' : 's'} pinned to it, which cannot finish without it. ` +
        'Wait for them to finish, or delete with ?force=true',
    );
  }
}

/**
 * What a new revision may not change without force: the instance type (keys and state belong to
 * it), and, for a method both revisions have, its input type, output type and key field. Adding
 * services and methods is fine; dropping a method is allowed (see `droppedMethods`).
 */
export function incompatibleChanges(previous: ServiceMetadata, next: CompiledService): string[] {
  const changes: string[] = [];
  if (previous.instance_type !== next.instanceType) {
    changes.push(`service '${next.name}' changes its instance type from ${previous.instance_type} to ${next.instanceType}`);
  }
  const before = new Map(previous.methods.map((m) => [m.name, m]));
  for (const method of next.methods) {
    const old = before.get(method.name);
    if (old === undefined) continue;
    const where = `method '${next.name}/${method.name}'`;
    if (old.input_type !== method.input_type) changes.push(`${where} changes its input type from ${old.input_type} to ${method.input_type}`);
    if (old.output_type !== method.output_type) changes.push(`${where} changes its output type from ${old.output_type} to ${method.output_type}`);
    // Only meaningful when both revisions are keyed; a kind change is reported above.
    if (old.key_field_number !== undefined && method.key_field_number !== undefined && old.key_field_number !== method.key_field_number) {
      changes.push(`${where} changes its key field from number ${old.key_field_number} to ${method.key_field_number}`);
    }
  }
  return changes;
}

/** Methods the latest revision has and the new one lacks: new calls to them will answer 404. */
export function droppedMethods(previous: ServiceMetadata, next: CompiledService): string[] {
  const now = new Set(next.methods.map((m) => m.name));
  return previous.methods.map((m) => m.name).filter((m) => !now.has(m));
}

/**
 * Warnings about an address whose code can change under pinned invocations. On AWS a deployment
 * should be a published Lambda version: `$LATEST` (what an unqualified ARN runs) and aliases move.
 */
export function addressWarnings(address: EndpointAddress): string[] {
  if (address.kind !== 'lambda') return [];
  // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
  const qualifier = address.arn.split(':')[7];
  const advice = 'register a published version (…:function:<name>:<version>) so that invocations pinned to this deployment keep their code';
  if (qualifier === undefined)
    return [`'${address.arn}' is unqualified: it runs $LATEST, whose code can change under invocations pinned to this deployment; ${advice}`];
  if (qualifier === '$LATEST') return [`'${address.arn}' runs $LATEST, whose code can change under invocations pinned to this deployment; ${advice}`];
  if (!/^\d+$/.test(qualifier))
    return [`'${address.arn}' names an alias, which can be moved to other code under invocations pinned to this deployment; ${advice}`];
  return [];
}
