/**
 * Composition: builds the core once per process from configuration and clients. The three Lambda
 * entries and the local runner all get their handlers from here, so they share one code path.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { configFromEnv, type RuntimeConfig } from './config.js';
import { createAdminHandler } from './admin/admin-api.js';
import { CompletionHub, Dispatcher } from './driver/dispatcher.js';
import { Driver, type Kicker } from './driver/driver.js';
import { createTransport } from './endpoint/transport.js';
import type { EndpointTransport } from './endpoint/types.js';
import { createIngressHandler } from './ingress/ingress.js';
import type { HttpHandler } from './http/types.js';
import { createLogger, type Logger } from './log.js';
import { RegistryStore } from './registry/registry-store.js';
import { RegistryResolver } from './registry/resolver.js';
import { Registry } from './registry/registry.js';
import type { EndpointRecord } from './registry/types.js';
import { InvocationStore } from './store/invocation-store.js';
import { createTableClients, type TableClients } from './store/table.js';
import { AwsKicker } from './timers/aws-kicker.js';
import { LocalKicker } from './timers/local-kicker.js';
import type { TimerEvent } from './timers/timer-event.js';
import { createTimerHandler, type TimerOutcome } from './timers/timer-handler.js';
import { InvocationAdminService } from './admin/invocations.js';

export interface Runtime {
  config: RuntimeConfig;
  tables: TableClients;
  store: InvocationStore;
  registry: Registry;
  resolver: RegistryResolver;
  driver: Driver;
  dispatcher: Dispatcher;
  log: Logger;
  ingress: HttpHandler;
  admin: HttpHandler;
  timer: (event: TimerEvent) => Promise<TimerOutcome>;
  /** Local runner only: the in-process timer service. */
  localTimers?: LocalKicker;
}

export interface RuntimeOptions {
  config: RuntimeConfig;
  dynamo?: DynamoDBClientConfig;
  lambda?: LambdaClient;
  scheduler?: SchedulerClient;
  /** 'local': timers and kicks in process (stored in DynamoDB); 'aws': Scheduler + async Lambda invoke. */
  timers: 'local' | 'aws';
  log?: Logger;
  /** How timers are delivered locally (default: straight into the timer core). */
  timerSink?: (event: TimerEvent) => Promise<unknown>;
}

export function createRuntime(opts: RuntimeOptions): Runtime {
  const { config } = opts;
  const log = opts.log ?? createLogger();
  const tables = createTableClients(config.tableName, opts.dynamo ?? {});
  const store = new InvocationStore(tables);
  const lambda = opts.lambda ?? new LambdaClient({});
  const registryStore = new RegistryStore(tables);
  // Endpoints may not live at link-local / instance-metadata addresses (unless configured so).
  const addressPolicy = { allowLinkLocal: config.allowLinkLocalEndpoints };
  const registry = new Registry({ store: registryStore, transportDeps: { lambda, addressPolicy }, discovery: { timeoutMs: config.discoveryTimeoutMs } });
  const resolver = new RegistryResolver(registryStore);
  const hub = new CompletionHub();
  const transports = new Map<string, EndpointTransport>();
  const transportFor = (endpoint: EndpointRecord): EndpointTransport => {
    const cacheKey = `${endpoint.id}@${endpoint.createdAt}`;
    let t = transports.get(cacheKey);
    if (!t) transports.set(cacheKey, (t = createTransport(endpoint.address, { lambda, addressPolicy })));
    return t;
  };
  let timer: Runtime['timer'] = async () => ({ kind: 'ignored', reason: 'not ready' });
  let kicker: Kicker;
  let localTimers: LocalKicker | undefined;
  if (opts.timers === 'local') {
    localTimers = new LocalKicker(tables, (e) => (opts.timerSink ?? timer)(e), log);
    kicker = localTimers;
  } else {
    if (!config.timerFunctionArn || !config.schedulerRoleArn || !config.schedulerGroup) {
      throw new Error('AWS timers need RESTLESS_TIMER_FUNCTION_ARN, RESTLESS_SCHEDULER_ROLE_ARN and RESTLESS_SCHEDULER_GROUP');
    }
    kicker = new AwsKicker({ scheduler: opts.scheduler ?? new SchedulerClient({}), lambda, timerFunctionArn: config.timerFunctionArn, schedulerRoleArn: config.schedulerRoleArn, groupName: config.schedulerGroup });
  }
  const driver = new Driver({ store, resolver, transportFor, config, kicker, log, listener: hub });
  const dispatcher = new Dispatcher({
    store,
    driver,
    hub,
    config,
    log,
    startInBackground: (id) => (opts.timers === 'local' ? kicker.kick(id) : kicker.kick(id)),
  });
  timer = createTimerHandler({ driver, store, log, kick: (id) => kicker.kick(id) });
  const ingress = createIngressHandler({ resolver, dispatcher, config, log, store, kicker });
  const admin = createAdminHandler({
    registry,
    invocations: new InvocationAdminService({ store, kicker, listener: hub, log, abortAttempt: (id) => driver.abortAttempt(id) }),
    // Registrations take effect at once in this process; other Lambdas see them within the cache TTL.
    onChange: () => resolver.invalidate(),
    logError: (message, err) => log.log('error', message, { error: err }),
  });
  return { config, tables, store, registry, resolver, driver, dispatcher, log, ingress, admin, timer, localTimers };
}

let shared: Runtime | undefined;

/**
 * The process-wide runtime of a Lambda (built at module scope, reused while warm). The local
 * runner sets RESTLESS_LOCAL=1 and the DynamoDB endpoint before the entries are imported.
 */
export function sharedRuntime(): Runtime {
  shared ??= createRuntime({ config: configFromEnv(), timers: process.env.RESTLESS_LOCAL === '1' ? 'local' : 'aws' });
  return shared;
}
