/** The instance kind of a service (keyed, singleton, unkeyed) from its announced instance type. */
import type { InstanceType } from '../registry/types.js';
import type { InstanceKind } from '../store/invocation-store.js';

export function instanceKind(t: InstanceType): InstanceKind {
  return t === 'Keyed' ? 'keyed' : t === 'Singleton' ? 'singleton' : 'unkeyed';
}
