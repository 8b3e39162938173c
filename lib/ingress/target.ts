/** Target resolution shared by every ingress protocol and the built-in services (Ingress/Invoke). */
import { NotFoundError, PermissionDeniedError } from '../errors.js';
import { checkNameLength } from '../http/limits.js';
import type { ResolvedMethod, ResolvedService, ServiceResolver } from '../registry/types.js';

/** Looks a target up, refusing private services and unknown methods. */
export async function resolveTarget(
  resolver: ServiceResolver,
  serviceName: string,
  methodName: string,
  opts: { fromIngress: boolean },
): Promise<{ service: ResolvedService; method: ResolvedMethod }> {
  // Names also come from bodies (Ingress/Invoke); one too long to exist must not reach a table key.
  checkNameLength('service name', serviceName);
  checkNameLength('method name', methodName);
  const service = await resolver.resolve(serviceName);
  if (!service) throw new NotFoundError(`Service '${serviceName}' not found. Check whether the deployment containing the service is registered.`);
  if (opts.fromIngress && !service.meta.public) throw new PermissionDeniedError(`Service ${serviceName} is not accessible`);
  const method = service.methods.get(methodName);
  if (!method)
    throw new NotFoundError(`Service method '${serviceName}/${methodName}' not found. Check whether the deployment containing the service is registered.`);
  return { service, method };
}
