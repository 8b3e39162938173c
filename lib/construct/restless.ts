/**
 * The Restless construct: everything the runtime needs on AWS, usable from any CDK app.
 *
 * ```
 *  client ──▶ HTTP API ─ ANY /{proxy+} ───────────────────▶ ingress ─┐
 *  operator ─SigV4─▶ /endpoints, /deployments, /services,   ─▶ admin ──┤
 *                    /invocations, /health, /openapi (IAM)            ├─▶ table
 *  Scheduler (group, role) ─ one-shot at(...) schedules ──▶ timer ────┤
 *  EventBridge rate(1 minute) {"kind":"sweep"} ───────────▶ timer    │
 *  ingress/admin/timer ─ lambda:InvokeFunction (Event) "kick" ─▶ timer┘
 * ```
 *
 * Function code comes from `functions/{ingress,admin,timer}.ts` of this package, bundled with the
 * local esbuild (never Docker: see {@link assertLocalEsbuild}).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Annotations, ArnFormat, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { DEFAULTS, ENV } from '../config.js';
import { TABLE_SCHEMA } from '../store/table.js';
import { CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS } from '../ingress/cors.js';

/** The package root (holds `functions/` and `package-lock.json`), found from this file. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The three Lambda entries; each exports `handler`. */
export const FUNCTION_ENTRIES = {
  ingress: fileURLToPath(new URL('../../functions/ingress.ts', import.meta.url)),
  admin: fileURLToPath(new URL('../../functions/admin.ts', import.meta.url)),
  timer: fileURLToPath(new URL('../../functions/timer.ts', import.meta.url)),
} as const;

export type FunctionRole = keyof typeof FUNCTION_ENTRIES;

/**
 * Admin routes on the shared HTTP API. API Gateway picks the most specific route, so these win over
 * the ingress catch-all; ingress paths (`/{service}/{method}` with a dotted service name and
 * `/restate/invocation/{id}/output|attach`) never start with one of these segments.
 */
export const ADMIN_ROUTE_PATHS = [
  '/endpoints',
  '/endpoints/{proxy+}',
  '/deployments',
  '/deployments/{proxy+}',
  '/services',
  '/services/{proxy+}',
  '/invocations',
  '/invocations/{proxy+}',
  '/health',
  '/openapi',
  '/ui',
  '/ui/{proxy+}',
] as const;

/** The ingress catch-all route. */
export const INGRESS_ROUTE_PATH = '/{proxy+}';

export { CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS } from '../ingress/cors.js';

/** What the functions may do with the table's items. */
export const TABLE_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
] as const;

/*
 * Timeouts, and why:
 * - ingress 30 s: API Gateway HTTP APIs cut every integration at 30 s (hard limit), so a longer
 *   Lambda timeout would only burn money after the caller is gone. The ingress answers
 *   `deadline_exceeded` at the ingress deadline (28 s by default) and hands the invocation to the
 *   timer, which leaves ~2 s to persist and kick.
 * - admin 30 s: same API Gateway limit; discovery of a cold Lambda endpoint takes a few seconds.
 * - timer 15 min (the Lambda maximum): it drives invocations nobody waits for synchronously: an
 *   attempt may legitimately last inactivity + abort timeout (2 min by default) and one run may
 *   drain a keyed inbox. Lambda bills the time used, not the timeout, so the ceiling is free; a
 *   timer that dies is recovered by the sweep once its lease expires.
 */
const INGRESS_TIMEOUT = Duration.seconds(30);
const ADMIN_TIMEOUT = Duration.seconds(30);
const TIMER_TIMEOUT = Duration.minutes(15);

export interface RestlessRetryProps {
  /** @default 50 ms */
  readonly initialInterval?: Duration;
  /** @default 2 */
  readonly factor?: number;
  /** @default 10 s */
  readonly maxInterval?: Duration;
  /** @default - unbounded (the Restate 0.x default) */
  readonly maxAttempts?: number;
}

export interface RestlessProps {
  /** Physical table name. @default - generated by CloudFormation */
  readonly tableName?: string;
  /** What happens to the table when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /** Retry policy for failed attempts (exponential backoff). */
  readonly retry?: RestlessRetryProps;
  /** An attempt without progress for this long is stopped. @default 60 s */
  readonly inactivityTimeout?: Duration;
  /** Extra grace after the inactivity timeout before the attempt is cut. @default 60 s */
  readonly abortTimeout?: Duration;
  /** A synchronous caller gets `deadline_exceeded` after this long; must stay below 30 s. @default 28 s */
  readonly ingressDeadline?: Duration;
  /** Idempotency retention when the caller sends none. @default 30 min */
  readonly idempotencyDefaultRetention?: Duration;
  /** Upper bound for a caller's `idempotency-retention-period`. @default 30 days */
  readonly idempotencyMaxRetention?: Duration;
  /** Origins allowed by CORS (browser Connect / gRPC-web callers). @default ['*'] */
  readonly corsAllowedOrigins?: string[];
  /**
   * Lambda service endpoints the runtime may call (discovery by the admin function, invocations by
   * the ingress and timer functions). Each ARN is granted as given plus `:*` (versions, aliases).
   * @default - none: registering a Lambda endpoint fails with AccessDenied until it is listed here
   */
  readonly endpointFunctionArns?: string[];
  /**
   * Roles the runtime may assume to call Lambda endpoints registered with `assume_role_arn`.
   * @default - none
   */
  readonly endpointAssumeRoleArns?: string[];
  /**
   * WARNING: grants `lambda:InvokeFunction` on every function of this account in this region,
   * including the Restless functions themselves, to anyone who can register an endpoint through
   * the (IAM-protected) admin API. Convenient for development; prefer `endpointFunctionArns`.
   * @default false
   */
  readonly allowInvokeAnyFunctionInAccount?: boolean;
  /** Memory of each function (CPU scales with it). @default 1024 */
  readonly memorySize?: number;
  /** Retention of the functions' log groups. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Name of the timer function (it must know its own ARN to schedule itself). @default - derived from the construct path */
  readonly timerFunctionName?: string;
  /** Entry files to bundle instead of this package's `functions/*.ts` (each must export `handler`). */
  readonly entries?: Partial<Record<FunctionRole, string>>;
  /**
   * Extra environment variables for all three functions, e.g. `RESTLESS_LOG_LEVEL`, or
   * `AWS_ENDPOINT_URL_DYNAMODB` for a template run under `sam local`. They cannot override the
   * variables the construct sets from its props (the names in `ENV`, and `NODE_OPTIONS`).
   * @default - none
   */
  readonly environment?: Record<string, string>;
}

/** Restless on AWS: table, three functions, HTTP API, Scheduler group + role, sweep rule. */
export class Restless extends Construct {
  readonly table: Table;
  readonly ingressFunction: NodejsFunction;
  readonly adminFunction: NodejsFunction;
  readonly timerFunction: NodejsFunction;
  readonly api: HttpApi;
  readonly scheduleGroup: ScheduleGroup;
  /** Assumed by EventBridge Scheduler to invoke the timer function. */
  readonly schedulerRole: Role;
  readonly sweepRule: Rule;
  /** Base URL of the HTTP API (ingress and admin routes). */
  readonly apiUrl: string;

  constructor(scope: Construct, id: string, props: RestlessProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const settings = resolveSettings(this, props);
    if (stack.bundlingRequired) assertLocalEsbuild(this);

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

    // Its schedules only ever target this construct's timer function, which goes with the stack;
    // so does the group (the invocations themselves stay in the retained table).
    this.scheduleGroup = new ScheduleGroup(this, 'Timers', { removalPolicy: RemovalPolicy.DESTROY });
    this.schedulerRole = new Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to invoke the Restless timer function',
      // Confused-deputy guard (Scheduler user guide): only schedules of this group may use the role.
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': this.scheduleGroup.scheduleGroupArn } },
      }),
    });

    // The timer's own ARN goes into its environment; referencing the function's Arn attribute there
    // would be a CloudFormation cycle, so the name is fixed and the ARN is spelled out.
    const timerFunctionName = props.timerFunctionName ?? Names.uniqueResourceName(this, { maxLength: 58, separator: '-' }) + '-timer';
    const timerArn = stack.formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: timerFunctionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const common = {
      // A given name is passed as a literal, so tools that cannot resolve `Ref` (sam local) see it.
      [ENV.tableName]: props.tableName ?? this.table.tableName,
      [ENV.schedulerGroup]: this.scheduleGroup.scheduleGroupName,
      [ENV.schedulerRoleArn]: this.schedulerRole.roleArn,
      ...settings.environment,
    };
    const make = (role: FunctionRole, timeout: Duration, extraEnv: Record<string, string>, functionName?: string) => {
      const logGroup = new LogGroup(this, `${capitalise(role)}Logs`, {
        retention: props.logRetention ?? RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      return new NodejsFunction(this, capitalise(role), {
        description: `Restless ${role}`,
        functionName,
        entry: props.entries?.[role] ?? FUNCTION_ENTRIES[role],
        handler: 'handler',
        projectRoot: PACKAGE_ROOT,
        depsLockFilePath: lockFile(),
        runtime: Runtime.NODEJS_22_X,
        architecture: Architecture.ARM_64,
        memorySize: props.memorySize ?? 1024,
        timeout,
        logGroup,
        environment: { ...(props.environment ?? {}), ...common, ...extraEnv },
        bundling: {
          format: OutputFormat.ESM,
          target: 'node22',
          platform: 'node',
          mainFields: ['module', 'main'],
          minify: true,
          sourceMap: true,
          sourcesContent: false,
          // The Lambda runtime ships SDK v3; bundling our own would add ~1 MB per function.
          externalModules: ['@aws-sdk/*'],
          // CommonJS dependencies bundled into ESM still call `require` for Node built-ins.
          banner: "import { createRequire as __restlessCreateRequire } from 'node:module'; const require = __restlessCreateRequire(import.meta.url);",
          loader: { '.binpb': 'binary' },
          forceDockerBundling: false,
        },
      });
    };

    this.timerFunction = make('timer', TIMER_TIMEOUT, { [ENV.timerFunctionArn]: timerArn }, timerFunctionName);
    const kick = { [ENV.timerFunctionArn]: this.timerFunction.functionArn };
    this.ingressFunction = make('ingress', INGRESS_TIMEOUT, kick);
    this.adminFunction = make('admin', ADMIN_TIMEOUT, kick);
    const functions = [this.ingressFunction, this.adminFunction, this.timerFunction];

    // --- grants -------------------------------------------------------------------------------
    // Table: all three read and write items (the admin registers endpoints and kills
    // invocations). Item actions only, on the table and its index: no streams, no table admin.
    // TransactWriteItems is authorised through the Put/Update/Delete/ConditionCheck actions.
    for (const fn of functions) this.table.grant(fn, ...TABLE_ITEM_ACTIONS);

    // Scheduler: ingress and timer arm and cancel one-shot schedules, only inside the group, and
    // may hand over only the scheduler role, only to Scheduler.
    const schedulesInGroup = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.scheduleGroup.scheduleGroupName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    for (const fn of [this.ingressFunction, this.timerFunction]) {
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'], resources: [schedulesInGroup] }),
      );
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [this.schedulerRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        }),
      );
    }
    this.timerFunction.grantInvoke(this.schedulerRole);

    // Kicks: an asynchronous Invoke of the timer (the timer kicks itself for parents and inboxes;
    // its grant uses the spelled-out ARN to avoid the cycle described above).
    this.timerFunction.grantInvoke(this.ingressFunction);
    this.timerFunction.grantInvoke(this.adminFunction);
    this.timerFunction.addToRolePolicy(invokeStatement([timerArn]));

    // Lambda service endpoints: discovery (admin) and invocations (ingress, timer).
    const endpointResources = settings.endpointFunctionArns.flatMap((arn) => [arn, `${arn}:*`]);
    if (props.allowInvokeAnyFunctionInAccount) {
      endpointResources.push(stack.formatArn({ service: 'lambda', resource: 'function', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }));
      Annotations.of(this).addWarningV2(
        'restless:allowInvokeAnyFunctionInAccount',
        'allowInvokeAnyFunctionInAccount lets the Restless functions invoke every Lambda function in this account and region; prefer endpointFunctionArns.',
      );
    }
    for (const fn of functions) {
      if (endpointResources.length > 0) fn.addToRolePolicy(invokeStatement(endpointResources));
      if (settings.endpointAssumeRoleArns.length > 0) {
        fn.addToRolePolicy(new PolicyStatement({ actions: ['sts:AssumeRole'], resources: settings.endpointAssumeRoleArns }));
      }
    }

    // --- HTTP API -----------------------------------------------------------------------------
    this.api = new HttpApi(this, 'Api', {
      description: 'Restless ingress (open) and admin (IAM) API',
      corsPreflight: {
        allowOrigins: settings.corsAllowedOrigins,
        allowMethods: CORS_ALLOW_METHODS.map((m) => CorsHttpMethod[m]),
        allowHeaders: [...CORS_ALLOW_HEADERS],
        exposeHeaders: [...CORS_EXPOSE_HEADERS],
        maxAge: Duration.seconds(CORS_MAX_AGE_SECONDS),
      },
    });
    const ingressIntegration = new HttpLambdaIntegration('Ingress', this.ingressFunction);
    const adminIntegration = new HttpLambdaIntegration('Admin', this.adminFunction);
    this.api.addRoutes({ path: INGRESS_ROUTE_PATH, methods: [HttpMethod.ANY], integration: ingressIntegration });
    const iam = new HttpIamAuthorizer();
    for (const path of ADMIN_ROUTE_PATHS) {
      this.api.addRoutes({ path, methods: [HttpMethod.ANY], integration: adminIntegration, authorizer: iam });
    }
    this.apiUrl = this.api.apiEndpoint;

    // --- sweep --------------------------------------------------------------------------------
    // Re-drives invocations whose lease expired (a Lambda that died mid-attempt; docs/architecture.md, "The one rule").
    // A missed minute is caught by the next one, hence the short event age and single retry.
    this.sweepRule = new Rule(this, 'Sweep', {
      description: 'Restless sweep: re-drive expired leases and overdue timers',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [
        new LambdaFunction(this.timerFunction, {
          event: RuleTargetInput.fromObject({ kind: 'sweep' }),
          maxEventAge: Duration.minutes(1),
          retryAttempts: 1,
        }),
      ],
    });
  }
}

function invokeStatement(resources: string[]): PolicyStatement {
  return new PolicyStatement({ effect: Effect.ALLOW, actions: ['lambda:InvokeFunction'], resources });
}

/** Settings after defaults and validation, as the functions will see them. */
interface Settings {
  environment: Record<string, string>;
  corsAllowedOrigins: string[];
  endpointFunctionArns: string[];
  endpointAssumeRoleArns: string[];
}

function resolveSettings(scope: Construct, props: RestlessProps): Settings {
  const fail = (message: string): never => {
    throw new RestlessPropsError(message, scope);
  };
  const ms = (d: Duration | undefined, fallback: number) => (d === undefined ? fallback : d.toMilliseconds());
  const retry = {
    initialIntervalMs: ms(props.retry?.initialInterval, DEFAULTS.retry.initialIntervalMs),
    factor: props.retry?.factor ?? DEFAULTS.retry.factor,
    maxIntervalMs: ms(props.retry?.maxInterval, DEFAULTS.retry.maxIntervalMs),
    maxAttempts: props.retry?.maxAttempts,
  };
  const inactivityTimeoutMs = ms(props.inactivityTimeout, DEFAULTS.inactivityTimeoutMs);
  const abortTimeoutMs = ms(props.abortTimeout, DEFAULTS.abortTimeoutMs);
  const ingressDeadlineMs = ms(props.ingressDeadline, DEFAULTS.ingressDeadlineMs);
  const idemDefaultSec = ms(props.idempotencyDefaultRetention, DEFAULTS.idempotencyDefaultRetentionSec * 1000) / 1000;
  const idemMaxSec = ms(props.idempotencyMaxRetention, DEFAULTS.idempotencyMaxRetentionSec * 1000) / 1000;
  const corsAllowedOrigins = props.corsAllowedOrigins ?? [...DEFAULTS.corsAllowedOrigins];

  if (!(retry.factor >= 1)) fail(`retry.factor must be >= 1, got ${retry.factor}`);
  if (retry.initialIntervalMs <= 0) fail('retry.initialInterval must be positive');
  if (retry.maxIntervalMs < retry.initialIntervalMs) fail('retry.maxInterval must not be below retry.initialInterval');
  if (retry.maxAttempts !== undefined && !(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) {
    fail(`retry.maxAttempts must be a positive integer, got ${retry.maxAttempts}`);
  }
  if (ingressDeadlineMs <= 0 || ingressDeadlineMs >= INGRESS_TIMEOUT.toMilliseconds()) {
    fail(`ingressDeadline must be between 0 and ${INGRESS_TIMEOUT.toSeconds()} s (the API Gateway limit)`);
  }
  if (inactivityTimeoutMs + abortTimeoutMs >= TIMER_TIMEOUT.toMilliseconds()) {
    fail(`inactivityTimeout + abortTimeout must stay below the timer function's ${TIMER_TIMEOUT.toMinutes()} min timeout`);
  }
  if (!Number.isInteger(idemDefaultSec) || !Number.isInteger(idemMaxSec)) fail('idempotency retentions must be whole seconds');
  if (idemDefaultSec > idemMaxSec) fail('idempotencyDefaultRetention must not exceed idempotencyMaxRetention');
  if (corsAllowedOrigins.length === 0 || corsAllowedOrigins.some((o) => o === '' || o.includes(','))) {
    fail('corsAllowedOrigins must be a non-empty list of origins without commas');
  }
  const endpointFunctionArns = props.endpointFunctionArns ?? [];
  for (const arn of endpointFunctionArns) {
    if (!Token.isUnresolved(arn) && !/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$/.test(arn)) {
      fail(`endpointFunctionArns: not a Lambda function ARN: ${arn}`);
    }
  }
  const owned = new Set<string>([...Object.values(ENV), 'NODE_OPTIONS']);
  for (const key of Object.keys(props.environment ?? {})) {
    if (owned.has(key)) fail(`environment: ${key} is set by the construct; use its props`);
  }

  const environment: Record<string, string> = {
    [ENV.retryInitialIntervalMs]: String(retry.initialIntervalMs),
    [ENV.retryFactor]: String(retry.factor),
    [ENV.retryMaxIntervalMs]: String(retry.maxIntervalMs),
    [ENV.inactivityTimeoutMs]: String(inactivityTimeoutMs),
    [ENV.abortTimeoutMs]: String(abortTimeoutMs),
    [ENV.ingressDeadlineMs]: String(ingressDeadlineMs),
    [ENV.idempotencyDefaultRetentionSec]: String(idemDefaultSec),
    [ENV.idempotencyMaxRetentionSec]: String(idemMaxSec),
    [ENV.corsAllowedOrigins]: corsAllowedOrigins.join(','),
    // Stack traces point at the TypeScript sources (the bundles carry source maps).
    NODE_OPTIONS: '--enable-source-maps',
  };
  // Unbounded retries are expressed by leaving the variable out (configFromEnv reads '' as unset too).
  if (retry.maxAttempts !== undefined) environment[ENV.retryMaxAttempts] = String(retry.maxAttempts);
  return { environment, corsAllowedOrigins, endpointFunctionArns, endpointAssumeRoleArns: props.endpointAssumeRoleArns ?? [] };
}

function lockFile(): string | undefined {
  const path = fileURLToPath(new URL('../../package-lock.json', import.meta.url));
  return existsSync(path) ? path : undefined;
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

/** Invalid construct props (or a missing build tool), named after the construct that failed. */
export class RestlessPropsError extends Error {
  override readonly name = 'RestlessPropsError';
  constructor(message: string, scope: Construct) {
    super(`${scope.node.path}: ${message}`);
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
