/**
 * Composition: builds the core once per process from configuration and clients. The three Lambda
 * entries and the local runner all get their handlers from here, so they share one code path.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { configFromEnv, ENV, type RuntimeConfig } from './config.js';
import { createAdminHandler } from './admin/admin-api.js';
import { CompletionHub, Dispatcher } from './driver/dispatcher.js';
import { Driver, type DriverDeps, type Kicker } from './driver/driver.js';
import { createTransport, defaultLambdaClients, type LambdaAddress } from './endpoint/transport.js';
import type { EndpointTransport } from './endpoint/types.js';
import { createIngressHandler } from './ingress/ingress.js';
import type { HttpHandler } from './http/types.js';
import { ConfigurationError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { RegistryStore } from './registry/registry-store.js';
import { RegistryResolver } from './registry/resolver.js';
import { Registry } from './registry/registry.js';
import type { EndpointRecord, ServiceResolver } from './registry/types.js';
import { InvocationStore } from './store/invocation-store.js';
import { createTableClients, type TableClients } from './store/table.js';
import { AwsKicker } from './timers/aws-kicker.js';
import { LocalKicker } from './timers/local-kicker.js';
import type { TimerEvent } from './timers/timer-event.js';
import { createTimerHandler, type TimerOutcome } from './timers/timer-handler.js';
import { InvocationAdminService } from './admin/invocations.js';
import { InvocationLister } from './store/invocation-list.js';

export interface Runtime {
  config: RuntimeConfig;
  tables: TableClients;
  store: InvocationStore;
  registry: Registry;
  resolver: ServiceResolver;
  driver: Driver;
  dispatcher: Dispatcher;
  /** In-process notifications of finished invocations (a shortcut for waiters, never the truth). */
  hub: CompletionHub;
  kicker: Kicker;
  invocations: InvocationAdminService;
  log: Logger;
  ingress: HttpHandler;
  admin: HttpHandler;
  timer: (event: TimerEvent) => Promise<TimerOutcome>;
  /** One pass of the periodic sweep: drives whatever the due index says is overdue. */
  sweep: () => Promise<TimerOutcome>;
  /** Local runner only: the in-process timer service. */
  localTimers?: LocalKicker;
}

/** Builds a kicker around the function that delivers timer events (tests: drop, fail, record). */
export type KickerFactory = (fire: (event: TimerEvent) => Promise<TimerOutcome>, store: InvocationStore) => Kicker;

export interface RuntimeOptions {
  config: RuntimeConfig;
  dynamo?: DynamoDBClientConfig;
  /** An existing table's clients (several runtimes on one table, as several processes). */
  tables?: TableClients;
  lambda?: LambdaClient;
  scheduler?: SchedulerClient;
  sqs?: SQSClient;
  /** 'local': timers and kicks in process; 'aws': the SQS timer queue + Scheduler; or a kicker of one's own. */
  timers: 'local' | 'aws' | KickerFactory;
  log?: Logger;
  /** How timers are delivered locally (default: straight into the timer core). */
  timerSink?: (event: TimerEvent) => Promise<unknown>;
  /** Overrides for tests: a fixed resolver, a transport, a clock, driver and sweep settings. */
  resolver?: ServiceResolver;
  transportFor?: (endpoint: EndpointRecord) => EndpointTransport;
  now?: () => number;
  driver?: Pick<DriverDeps, 'inlineWaitMs' | 'deadlineArmAfterMs'>;
  sweepGraceMs?: number;
}

/** The one composition root: the Lambdas, the local runner and the tests all build the core here. */
export function createRuntime(opts: RuntimeOptions): Runtime {
  const { config } = opts;
  const log = opts.log ?? createLogger();
  const now = opts.now;
  const tables = opts.tables ?? createTableClients(config.tableName, opts.dynamo ?? {});
  const store = new InvocationStore(tables, now);
  // Endpoint calls: one client per region and assumed role, unless a test hands in one client for all.
  const lambda = opts.lambda ?? ((address: LambdaAddress) => defaultLambdaClients.forAddress(address));
  const registryStore = new RegistryStore(tables);
  // Endpoints may not live at link-local / instance-metadata addresses (unless configured so).
  const addressPolicy = { allowLinkLocal: config.allowLinkLocalEndpoints };
  const registry = new Registry({ store: registryStore, transportDeps: { lambda, addressPolicy }, discovery: { timeoutMs: config.discoveryTimeoutMs } });
  const registryResolver = new RegistryResolver(registryStore);
  const resolver = opts.resolver ?? registryResolver;
  const hub = new CompletionHub();
  const transports = new Map<string, EndpointTransport>();
  const transportFor =
    opts.transportFor ??
    ((endpoint: EndpointRecord): EndpointTransport => {
      const cacheKey = `${endpoint.id}@${endpoint.createdAt}`;
      let t = transports.get(cacheKey);
      if (!t) transports.set(cacheKey, (t = createTransport(endpoint.address, { lambda, addressPolicy })));
      return t;
    });
  // The kicker delivers into the timer core, which needs the driver, which needs the kicker.
  const fire = (event: TimerEvent): Promise<TimerOutcome> => timer(event);
  let kicker: Kicker;
  let localTimers: LocalKicker | undefined;
  if (opts.timers === 'local') {
    localTimers = new LocalKicker(store, (e) => (opts.timerSink ?? fire)(e), log);
    kicker = localTimers;
  } else if (opts.timers === 'aws') {
    const { timerQueueUrl, timerQueueArn, deadLetterQueueArn, schedulerRoleArn, schedulerGroup } = config;
    if (!timerQueueUrl || !timerQueueArn || !deadLetterQueueArn || !schedulerRoleArn || !schedulerGroup) {
      const missing = (['timerQueueUrl', 'timerQueueArn', 'deadLetterQueueArn', 'schedulerRoleArn', 'schedulerGroup'] as const)
        .filter((k) => !config[k])
        .map((k) => ENV[k]);
      throw new ConfigurationError(`AWS timers need ${missing.join(', ')}`);
    }
    kicker = new AwsKicker({
      sqs: opts.sqs,
      scheduler: opts.scheduler,
      queueUrl: timerQueueUrl,
      queueArn: timerQueueArn,
      deadLetterQueueArn,
      schedulerRoleArn,
      groupName: schedulerGroup,
      now,
    });
  } else {
    kicker = opts.timers(fire, store);
  }
  const driver = new Driver({ store, resolver, transportFor, config, kicker, log, listener: hub, now, ...opts.driver });
  const dispatcher = new Dispatcher({ store, driver, hub, config, log, now, startInBackground: (id) => kicker.kick(id) });
  // On AWS the sweep hands each overdue invocation to a timer function of its own; in one process it drives them.
  // A timer that arrives early (Scheduler fires ahead of time on purpose) is re-armed for the rest.
  const timer = createTimerHandler({
    driver,
    store,
    log,
    now,
    sweepGraceMs: opts.sweepGraceMs,
    kick: opts.timers === 'aws' ? (id) => kicker.kick(id) : undefined,
    rearm: (id, atMs, reason) => kicker.schedule(id, atMs, reason),
  });
  const ingress = createIngressHandler({ resolver, dispatcher, config, log, store, kicker, now });
  const invocations = new InvocationAdminService({
    store,
    lister: new InvocationLister(tables, now),
    now,
    kicker,
    listener: hub,
    log,
    abortAttempt: (id) => driver.abortAttempt(id),
  });
  const admin = createAdminHandler({
    registry,
    // Deployments with invocations pinned to them are not deleted without force.
    pinned: store,
    invocations,
    // Registrations take effect at once in this process; other Lambdas see them within the cache TTL.
    onChange: () => registryResolver.invalidate(),
    logError: (message, err) => log.log('error', message, { error: err }),
  });
  return {
    config,
    tables,
    store,
    registry,
    resolver,
    driver,
    dispatcher,
    hub,
    kicker,
    invocations,
    log,
    ingress,
    admin,
    timer,
    sweep: () => timer({ kind: 'sweep' }),
    localTimers,
  };
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
