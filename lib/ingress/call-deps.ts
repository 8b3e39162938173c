/** What an ingress call needs from the runtime (every protocol and the built-in services). */
import type { RuntimeConfig } from '../config.js';
import type { Dispatcher } from '../driver/dispatcher.js';
import type { Kicker } from '../driver/ports.js';
import type { Logger } from '../log.js';
import type { ServiceResolver } from '../registry/types.js';
import type { InvocationStore } from '../store/invocation-store.js';

export interface CallDeps {
  resolver: ServiceResolver;
  dispatcher: Dispatcher;
  /** Built-in services (Ingress/Invoke, Awakeables) need them; without, they answer UNAVAILABLE. */
  store?: InvocationStore;
  kicker?: Kicker;
  config: RuntimeConfig;
  log: Logger;
  now?: () => number;
}
