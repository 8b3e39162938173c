/**
 * The `/endpoints` (`/deployments`) answers: a deployment in the 0.5 endpoint shape plus what an
 * operator needs to retire it safely (which services it is the latest revision of, how many
 * invocations are pinned to it), and the register and delete answers.
 */
import type { DeleteEndpointResult, EndpointView, RegisterResult } from '../registry/registry.js';
import type { PinnedInvocations } from '../registry/types.js';

/**
 * 0.5 endpoint shape (`uri` + `protocol_type` for HTTP, `arn` + `assume_role_arn` for Lambda)
 * plus `created_at` (0.8), `latest` per service, and `pinned_invocations` when it was counted.
 */
export function endpointJson(e: EndpointView, pinned?: number): Record<string, unknown> {
  const latest = new Set(e.latest);
  const services = Object.entries(e.services)
    .map(([name, revision]) => ({ name, revision, latest: latest.has(name) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const address = e.address;
  const where =
    address.kind === 'http'
      ? { uri: address.uri, protocol_type: e.protocolType }
      : { arn: address.arn, ...(address.assumeRoleArn === undefined ? {} : { assume_role_arn: address.assumeRoleArn }) };
  return {
    id: e.id,
    ...where,
    additional_headers: address.additionalHeaders,
    created_at: e.createdAt,
    services,
    ...(pinned === undefined ? {} : { pinned_invocations: pinned }),
  };
}

/** Pinned counts of `ids`, in order; undefined without a counter (the field is then left out). */
export async function pinnedCounts(pinned: PinnedInvocations | undefined, ids: readonly string[]): Promise<(number | undefined)[]> {
  if (pinned === undefined) return ids.map(() => undefined);
  return Promise.all(ids.map((id) => pinned.countPinned(id)));
}

/** `{id, services, warnings?}`; an in-place replacement also says how many invocations it affects. */
export async function registerJson(result: RegisterResult, pinned: PinnedInvocations | undefined): Promise<Record<string, unknown>> {
  const warnings = [...result.warnings];
  if (result.replaced && pinned !== undefined) {
    const count = await pinned.countPinned(result.id);
    if (count > 0) warnings.push(`${count} unfinished invocation${count === 1 ? ' is' : 's are'} pinned to deployment '${result.id}'`);
  }
  return { id: result.id, services: result.services, ...(warnings.length === 0 ? {} : { warnings }) };
}

/** `{id, unavailable_services, pinned_invocations?}`. */
export function deleteJson(result: DeleteEndpointResult): Record<string, unknown> {
  return {
    id: result.id,
    unavailable_services: result.unavailableServices,
    ...(result.pinnedInvocations === undefined ? {} : { pinned_invocations: result.pinnedInvocations }),
  };
}
