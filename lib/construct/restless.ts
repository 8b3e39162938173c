/**
 * The Restless construct: everything the runtime needs on AWS, usable from any CDK app.
 *
 * ```
 *  client ──▶ HTTP API ($default stage: throttled, access logs) ─ ANY /{proxy+} ─▶ ingress ─┐
 *  operator ─SigV4─▶ /endpoints, /deployments, /services, /invocations, … (IAM) ─▶ admin ───┤
 *  ingress/admin/timer ─ SendMessage (kick: delay 0; wake-up: ≤ 15 min) ─▶ TimerQueue ─▶ timer ─┼─▶ table
 *  Scheduler group ─ at(…) for wake-ups beyond 15 min and deadlines ────▶ TimerQueue          │
 *  EventBridge rate(1 minute) {"kind":"sweep"} ────────────────────────────────────▶ timer ───┘
 *  DeadLetters ◀─ whatever of the above could not be delivered (alarmed)
 *  deploy ─ Custom::RestlessDeployment ─▶ registrar ─ POST /deployments event ─▶ admin (registerEndpoint only)
 * ```
 *
 * Function code comes from `functions/{ingress,admin,timer}.ts` of this package, bundled with the
 * local esbuild (never Docker: see {@link assertLocalEsbuild}).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Annotations, ArnFormat, Duration, Names, RemovalPolicy, Stack, type CustomResource } from 'aws-cdk-lib';
import type { HttpApi, HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Rule } from 'aws-cdk-lib/aws-events';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  RecursiveLoop,
  Runtime,
  SystemLogLevel,
  Tracing,
  type IFunction,
  type IVersion,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../config.js';
import { TABLE_SCHEMA } from '../store/table.js';
import { createApi } from './api.js';
import { FUNCTION_BUNDLING, lockFile, PACKAGE_ROOT } from './bundling.js';
import { RestlessMonitoring } from './monitoring.js';
import { acknowledge, NAG, nagName } from './nag.js';
import type { FunctionRole, RestlessProps } from './props.js';
import { DeploymentRegistrar, publishedVersion, type RegisterEndpointOptions } from './registration.js';
import { ADMIN_TIMEOUT, INGRESS_TIMEOUT, resolveSettings, RestlessPropsError, TIMER_TIMEOUT } from './settings.js';
import { createSweepRule, createTimerPlumbing } from './timer-plumbing.js';

export {
  ADMIN_ROUTE_PATHS,
  CORS_ALLOW_HEADERS,
  CORS_EXPOSE_HEADERS,
  INGRESS_ROUTE_PATH,
  DEFAULT_THROTTLE,
  type ApiThrottle,
  type IngressAuthorization,
} from './api.js';
export { RestlessPropsError } from './settings.js';
export { FUNCTION_BUNDLING, PACKAGE_ROOT } from './bundling.js';

/** The three Lambda entries; each exports `handler`. */
export const FUNCTION_ENTRIES: Readonly<Record<FunctionRole, string>> = {
  ingress: fileURLToPath(new URL('../../functions/ingress.ts', import.meta.url)),
  admin: fileURLToPath(new URL('../../functions/admin.ts', import.meta.url)),
  timer: fileURLToPath(new URL('../../functions/timer.ts', import.meta.url)),
};

export type { FunctionRole, RestlessProps, RestlessRetryProps } from './props.js';
export { DeploymentRegistrar, type RegisterEndpointOptions } from './registration.js';
export { DEPLOYMENT_ATTRIBUTES, DEPLOYMENT_RESOURCE_TYPE } from '../deploy/deployment-resource.js';

/**
 * What the functions may do with the table's items. No Scan (only the local runner's tools need
 * one), no streams, no table administration; transactions are authorised through these.
 */
export const TABLE_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
] as const;

/** Restless on AWS: table, three functions, HTTP API, timer queue, Scheduler group + role, sweep rule, alarms, dashboard. */
export class Restless extends Construct {
  readonly table: Table;
  readonly ingressFunction: NodejsFunction;
  readonly adminFunction: NodejsFunction;
  readonly timerFunction: NodejsFunction;
  readonly api: HttpApi;
  readonly stage: HttpStage;
  /** Kicks and wake-ups within 15 minutes; consumed by the timer function. */
  readonly timerQueue: Queue;
  /** Everything asynchronous that could not be delivered ends here (alarmed). */
  readonly deadLetterQueue: Queue;
  readonly scheduleGroup: ScheduleGroup;
  /** Assumed by EventBridge Scheduler to send wake-ups to the timer queue. */
  readonly schedulerRole: Role;
  readonly sweepRule: Rule;
  readonly monitoring: RestlessMonitoring;
  /** Base URL of the HTTP API (ingress and admin routes). */
  readonly apiUrl: string;
  private readonly functions: NodejsFunction[];
  private readonly logRetention: RetentionDays;
  /** Created by the first {@link registerEndpoint}. */
  private registrar: DeploymentRegistrar | undefined;

  constructor(scope: Construct, id: string, props: RestlessProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const settings = resolveSettings(this, props);
    if (stack.bundlingRequired) assertLocalEsbuild(this);
    const logRetention = (this.logRetention = props.logRetention ?? RetentionDays.ONE_MONTH);

    this.table = new Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.dueIndex.name,
      partitionKey: { name: TABLE_SCHEMA.dueIndex.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.dueIndex.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    // Unfinished invocations by the deployment their journal was written against (admin counts).
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.pinnedIndex.name,
      partitionKey: { name: TABLE_SCHEMA.pinnedIndex.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.pinnedIndex.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    // Every invocation, newest first, for the admin listing; written once per invocation (table.ts).
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.listIndex.name,
      partitionKey: { name: TABLE_SCHEMA.listIndex.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.listIndex.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: [...TABLE_SCHEMA.listIndex.include],
    });

    const timers = createTimerPlumbing(this, TIMER_TIMEOUT);
    this.timerQueue = timers.timerQueue;
    this.deadLetterQueue = timers.deadLetterQueue;
    this.scheduleGroup = timers.scheduleGroup;
    this.schedulerRole = timers.schedulerRole;

    // Every function learns the queue by URL and ARN, never a function's own ARN: no function
    // refers to itself, so nothing needs a fixed name to break a CloudFormation cycle.
    const common = {
      // A given name is passed as a literal, so tools that cannot resolve `Ref` (sam local) see it.
      [ENV.tableName]: props.tableName ?? this.table.tableName,
      [ENV.timerQueueUrl]: this.timerQueue.queueUrl,
      [ENV.timerQueueArn]: this.timerQueue.queueArn,
      [ENV.deadLetterQueueArn]: this.deadLetterQueue.queueArn,
      [ENV.schedulerGroup]: this.scheduleGroup.scheduleGroupName,
      [ENV.schedulerRoleArn]: this.schedulerRole.roleArn,
      ...settings.environment,
    };
    const logGroups: Partial<Record<FunctionRole, LogGroup>> = {};
    const make = (role: FunctionRole, timeout: Duration, extra: Partial<ConstructorParameters<typeof NodejsFunction>[2]> = {}) => {
      const logGroup = new LogGroup(this, `${capitalise(role)}Logs`, { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY });
      logGroups[role] = logGroup;
      // Its own role, with its own log group and nothing of the AWS managed basic-execution policy.
      const executionRole = new Role(this, `${capitalise(role)}Role`, {
        description: `Runs the Restless ${role} function`,
        assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      });
      executionRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
      acknowledge(executionRole, NAG.xray);
      const fn = new NodejsFunction(this, capitalise(role), {
        description: `Restless ${role}`,
        entry: props.entries?.[role] ?? FUNCTION_ENTRIES[role],
        handler: 'handler',
        projectRoot: PACKAGE_ROOT,
        depsLockFilePath: lockFile(),
        runtime: Runtime.NODEJS_22_X,
        architecture: Architecture.ARM_64,
        memorySize: props.memorySize ?? 1024,
        timeout,
        role: executionRole,
        logGroup,
        // Platform lines (START, REPORT) as JSON too, so one query syntax covers every line;
        // the runtime's own lines are JSON already, and their level is RESTLESS_LOG_LEVEL's business.
        loggingFormat: LoggingFormat.JSON,
        systemLogLevelV2: SystemLogLevel.INFO,
        applicationLogLevelV2: ApplicationLogLevel.DEBUG,
        tracing: Tracing.ACTIVE,
        reservedConcurrentExecutions: props.reservedConcurrency?.[role],
        environment: { ...(props.environment ?? {}), ...common },
        bundling: FUNCTION_BUNDLING,
        ...extra,
      });
      acknowledge(fn, NAG.runtime);
      return fn;
    };

    this.timerFunction = make('timer', TIMER_TIMEOUT, {
      // The timer sends to the queue that invokes it (parents, inboxes, hand-overs, retries):
      // Lambda's loop detection would stop that chain after ~16 hops and drop the message.
      recursiveLoop: RecursiveLoop.ALLOW,
      // Its asynchronous invocations are the sweeps: one retry is plenty (another comes each minute).
      retryAttempts: 1,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    this.ingressFunction = make('ingress', INGRESS_TIMEOUT);
    this.adminFunction = make('admin', ADMIN_TIMEOUT);
    this.functions = [this.ingressFunction, this.adminFunction, this.timerFunction];

    // Timer queue → timer function; failed records are reported one by one and retried alone.
    this.timerFunction.addEventSource(new SqsEventSource(this.timerQueue, { batchSize: 10, reportBatchItemFailures: true }));

    // --- grants -------------------------------------------------------------------------------
    // Table: all three read and write items (the admin registers endpoints and kills
    // invocations); indexes by name, not `index/*`.
    const indexArns = [TABLE_SCHEMA.dueIndex.name, TABLE_SCHEMA.pinnedIndex.name].map((name) => `${this.table.tableArn}/index/${name}`);
    for (const fn of this.functions) {
      fn.addToRolePolicy(new PolicyStatement({ actions: [...TABLE_ITEM_ACTIONS], resources: [this.table.tableArn, ...indexArns] }));
      // Kicks and short wake-ups.
      fn.addToRolePolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.timerQueue.queueArn] }));
    }

    // Scheduler: ingress and timer create one-shot schedules (they delete themselves after
    // running), only inside the group, and may hand over only the scheduler role, only to Scheduler.
    const schedulesInGroup = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.scheduleGroup.scheduleGroupName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    for (const fn of [this.ingressFunction, this.timerFunction]) {
      fn.addToRolePolicy(new PolicyStatement({ actions: ['scheduler:CreateSchedule'], resources: [schedulesInGroup] }));
      acknowledge(fn.role!, NAG.schedules(this.scheduleGroup.scheduleGroupName));
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [this.schedulerRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        }),
      );
    }

    // Lambda service endpoints: discovery (admin) and invocations (ingress, timer).
    const endpointResources = settings.endpointFunctionArns.flatMap((arn) => [arn, `${arn}:*`]);
    const findings = settings.endpointFunctionArns.map((arn) => NAG.endpointVersions(arn));
    if (props.allowInvokeAnyFunctionInAccount) {
      endpointResources.push(stack.formatArn({ service: 'lambda', resource: 'function', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }));
      findings.push(NAG.anyFunction('arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:*'));
      Annotations.of(this).addWarningV2(
        'restless:allowInvokeAnyFunctionInAccount',
        'allowInvokeAnyFunctionInAccount lets the Restless functions invoke every Lambda function in this account and region; prefer endpointFunctionArns.',
      );
    }
    for (const fn of this.functions) {
      if (endpointResources.length > 0) fn.addToRolePolicy(invokeStatement(endpointResources));
      for (const finding of findings) acknowledge(fn.role!, finding);
      if (settings.endpointAssumeRoleArns.length > 0) {
        fn.addToRolePolicy(new PolicyStatement({ actions: ['sts:AssumeRole'], resources: settings.endpointAssumeRoleArns }));
      }
    }

    // --- HTTP API -----------------------------------------------------------------------------
    const api = createApi(this, {
      ingress: this.ingressFunction,
      admin: this.adminFunction,
      corsAllowedOrigins: settings.corsAllowedOrigins,
      throttle: settings.throttle,
      authorization: props.ingressAuthorization ?? { kind: 'none' },
      logRetention,
    });
    this.api = api.api;
    this.stage = api.stage;
    this.apiUrl = this.api.apiEndpoint;

    this.sweepRule = createSweepRule(this, this.timerFunction, this.deadLetterQueue);

    this.monitoring = new RestlessMonitoring(this, 'Monitoring', {
      functions: {
        ingress: { fn: this.ingressFunction, logGroup: logGroups.ingress! },
        admin: { fn: this.adminFunction, logGroup: logGroups.admin! },
        timer: { fn: this.timerFunction, logGroup: logGroups.timer! },
      },
      timerQueue: this.timerQueue,
      deadLetterQueue: this.deadLetterQueue,
      api: this.api,
      alarmTopic: props.alarmTopic,
    });
  }

  /**
   * Lets the runtime call a Lambda endpoint: discovery (admin), invocations (ingress, timer).
   * Grants the function and its versions and aliases, so a registered published version works.
   * A function in another account also needs a resource policy there for the three role ARNs.
   */
  allowEndpoint(fn: IFunction): void {
    const finding = NAG.endpointVersions(nagName(Stack.of(this).resolve(fn.functionArn)));
    for (const own of this.functions) {
      own.addToRolePolicy(invokeStatement([fn.functionArn, `${fn.functionArn}:*`]));
      acknowledge(own.role!, finding);
    }
  }

  /**
   * Registers a Lambda endpoint with the admin API at deploy time, and allows it as
   * {@link allowEndpoint} does. A Function is registered as its `currentVersion` (a new version
   * whenever its code or configuration changes, so a stack update registers the new code as a new
   * deployment); a Version as given. If the admin refuses (e.g. 409, an incompatible change), the
   * deployment fails with the admin's message; the same version again is fine. Dropping the
   * registration or replacing the version leaves the old deployment registered (invocations may
   * be pinned to it): retire it with `DELETE /deployments/{id}` once drained.
   * @returns the `Custom::RestlessDeployment` resource; `getAttString('DeploymentId')` is the deployment id.
   */
  registerEndpoint(endpoint: IFunction | IVersion, options: RegisterEndpointOptions = {}): CustomResource {
    const version = publishedVersion(this, endpoint);
    const id = `Deployment${Names.uniqueId(version.lambda)}`;
    if (this.node.tryFindChild(id) !== undefined) throw new RestlessPropsError(`${version.lambda.node.path} is registered already`, this);
    this.allowEndpoint(version.lambda);
    this.registrar ??= new DeploymentRegistrar(this, 'DeploymentRegistrar', { adminFunction: this.adminFunction, logRetention: this.logRetention });
    const resource = this.registrar.register(this, id, version, options);
    // Discovery runs as the admin role: its invoke grant on the endpoint must be in place first.
    resource.node.addDependency(this.adminFunction.role!);
    return resource;
  }
}

function invokeStatement(resources: string[]): PolicyStatement {
  return new PolicyStatement({ effect: Effect.ALLOW, actions: ['lambda:InvokeFunction'], resources });
}

/**
 * NodejsFunction silently falls back to `docker build` when it cannot find esbuild, which fails
 * here (no Docker) with an unhelpful daemon error. Fail first, with the fix.
 */
export function assertLocalEsbuild(scope: Construct): void {
  try {
    createRequire(import.meta.url).resolve('esbuild');
    return;
  } catch {
    // not installed next to this package: maybe on PATH
  }
  const probe = spawnSync('esbuild', ['--version']);
  if (probe.status === 0 && !probe.error) return;
  throw new RestlessPropsError(
    'esbuild is not installed: Restless bundles its functions with the local esbuild and never with Docker. Run `npm install --save-dev esbuild`.',
    scope,
  );
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
