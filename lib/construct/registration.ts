/**
 * Deploy-time registration of Lambda endpoints (`Restless.registerEndpoint`): one custom resource
 * per published version, served by one provider per Restless construct. The provider's own
 * function (functions/register-deployment.ts) may invoke the admin function and nothing else; it
 * hands the admin the API Gateway event of `POST /deployments`, so nothing bypasses the admin's
 * rules, and a refusal fails the deployment with the admin's message.
 */
import { CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Function as LambdaFunction, LoggingFormat, Runtime, type IFunction, type IVersion } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { ADMIN_FUNCTION_NAME_ENV, DEPLOYMENT_RESOURCE_TYPE, type DeploymentResourceProperties } from '../deploy/deployment-resource.js';
import { FUNCTION_BUNDLING, lockFile, PACKAGE_ROOT } from './bundling.js';
import { acknowledge, NAG, nagName } from './nag.js';
import { RestlessPropsError } from './settings.js';

/** The registrar's Lambda entry (exports `handler`). */
export const REGISTRAR_ENTRY = fileURLToPath(new URL('../../functions/register-deployment.ts', import.meta.url));

/** Room for the registrar's retries of transient failures (up to 6 admin calls of ≤ 30 s, 60 s of waits). */
export const REGISTRAR_TIMEOUT = Duration.minutes(5);

export interface RegisterEndpointOptions {
  /**
   * Registered as `assume_role_arn`: the runtime calls the endpoint with this role's credentials.
   * List it in `endpointAssumeRoleArns` too, so the runtime may assume it.
   * @default - the Restless functions' own roles
   */
  readonly assumeRoleArn?: string;
  /**
   * Registered with `"force": true`: replaces a deployment at the same ARN in place and allows
   * incompatible service changes. Unsafe for invocations in flight.
   * @default false
   */
  readonly force?: boolean;
}

export interface DeploymentRegistrarProps {
  readonly adminFunction: IFunction;
  readonly logRetention: RetentionDays;
}

/** The provider of `Custom::RestlessDeployment` resources: a registrar function and the CDK provider framework around it. */
export class DeploymentRegistrar extends Construct {
  /** Invokes the admin function with `POST /deployments` (and `GET /deployments/{id}`). */
  readonly function: NodejsFunction;
  readonly provider: Provider;

  constructor(scope: Construct, id: string, props: DeploymentRegistrarProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const role = new Role(this, 'Role', { description: 'Runs the Restless deployment registrar', assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    // The admin function as named, not `:*`: the registrar calls its unqualified ARN only.
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.adminFunction.functionArn] }));
    this.function = new NodejsFunction(this, 'Function', {
      description: 'Restless deployment registrar (custom resource)',
      entry: REGISTRAR_ENTRY,
      handler: 'handler',
      projectRoot: PACKAGE_ROOT,
      depsLockFilePath: lockFile(),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout: REGISTRAR_TIMEOUT,
      role,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      environment: { [ADMIN_FUNCTION_NAME_ENV]: props.adminFunction.functionName },
      bundling: FUNCTION_BUNDLING,
    });
    acknowledge(this.function, NAG.runtime);

    // The framework's function gets a role and log group of ours: no AWS managed policy, bounded retention.
    const frameworkLogs = new LogGroup(this, 'ProviderLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const frameworkRole = new Role(this, 'ProviderRole', {
      description: 'Runs the CDK provider framework of the Restless deployment registrar',
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    frameworkRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [frameworkLogs.logGroupArn] }));
    this.provider = new Provider(this, 'Provider', { onEventHandler: this.function, frameworkOnEventRole: frameworkRole, logGroup: frameworkLogs });
    acknowledge(frameworkRole, NAG.registrarVersions(nagName(Stack.of(this).resolve(this.function.functionArn))));
  }

  /** Declares the registration of `version` under `scope`. */
  register(scope: Construct, id: string, version: IVersion, options: RegisterEndpointOptions = {}): CustomResource {
    const properties: DeploymentResourceProperties = {
      Arn: version.functionArn,
      ...(options.assumeRoleArn === undefined ? {} : { AssumeRoleArn: options.assumeRoleArn }),
      ...(options.force === undefined ? {} : { Force: options.force }),
    };
    return new CustomResource(scope, id, {
      serviceToken: this.provider.serviceToken,
      resourceType: DEPLOYMENT_RESOURCE_TYPE,
      properties: { ...properties },
    });
  }
}

/**
 * The published version to register: a Function's `currentVersion` (a new version whenever its
 * code or configuration changes), or a version as given. An alias or an imported function names
 * no published version this app controls.
 */
export function publishedVersion(scope: Construct, endpoint: IFunction | IVersion): IVersion {
  if (isVersion(endpoint)) {
    if (endpoint.version === '$LATEST') {
      throw new RestlessPropsError('registerEndpoint needs a published version, not $LATEST: invocations stay pinned to the deployment they started on', scope);
    }
    return endpoint;
  }
  if (endpoint instanceof LambdaFunction) return endpoint.currentVersion;
  throw new RestlessPropsError(
    `registerEndpoint cannot find a published version of ${endpoint.node.path}: pass a lambda.Function (its currentVersion is registered) or a lambda.Version (for an alias, its version)`,
    scope,
  );
}

function isVersion(x: IFunction | IVersion): x is IVersion {
  return typeof (x as Partial<IVersion>).version === 'string' && (x as Partial<IVersion>).lambda !== undefined;
}
