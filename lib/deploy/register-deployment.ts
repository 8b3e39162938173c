/**
 * The custom resource behind `Restless.registerEndpoint`: registers a published Lambda version
 * with the admin API at deploy time. CloudFormation → provider framework → `onEvent` here →
 * Invoke of the admin function with the API Gateway (payload 2.0) event of `POST /deployments`,
 * so the registration takes the path an operator's request takes (validation, discovery, the
 * deployment rules), only without API Gateway and SigV4. A refusal fails the deployment with the
 * admin's message; Delete leaves the deployment alone (invocations may be pinned to it).
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { eventFromRequest, responseFromResult, type ApiGatewayEvent, type ApiGatewayResult } from '../http/apigw.js';
import type { Logger } from '../log.js';
import { ENDPOINT_EXISTS_RESTATE_CODE } from '../registry/deployments.js';
import { DISCOVERY_RESTATE_CODE } from '../registry/discovery.js';
import { endpointIdOf } from '../registry/registration.js';
import { DEPLOYMENT_ATTRIBUTES, type DeploymentResourceProperties } from './deployment-resource.js';

export { ADMIN_FUNCTION_NAME_ENV, DEPLOYMENT_RESOURCE_TYPE, type DeploymentResourceProperties } from './deployment-resource.js';

/** Routes the construct gives the admin function (a real API Gateway event carries the matched one). */
const ROUTE_KEYS = { deployments: 'ANY /deployments', deployment: 'ANY /deployments/{proxy+}' } as const;

/** What the provider framework hands `onEvent` (the fields used here). */
export interface DeploymentResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: DeploymentResourceProperties & { readonly ServiceToken?: string };
}

/** What `onEvent` answers; `Data` becomes the resource's attributes (`DeploymentId`, `Services`). */
export interface DeploymentResourceResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Readonly<Record<string, string>>;
}

/** The admin refused the registration, or could not be asked: fails the deployment with this message. */
export class DeploymentRegistrationError extends Error {
  constructor(
    message: string,
    /** The admin's HTTP status; undefined when the admin function itself failed. */
    readonly status: number | undefined,
    readonly restateCode: string | undefined,
  ) {
    super(message);
    this.name = 'DeploymentRegistrationError';
  }
}

export interface DeploymentResourceDeps {
  lambda: Pick<LambdaClient, 'send'>;
  adminFunctionName: string;
  /**
   * Waits before each retry of a transient failure: an admin 5xx, a failed admin function, or a
   * discovery failure (META0003), which right after a deploy is mostly IAM not having propagated
   * the new invoke grant yet. @default 2, 4, 8, 16 and 30 s
   */
  retryDelaysMs?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
  log?: Logger;
}

const DEFAULT_RETRY_DELAYS_MS = [2_000, 4_000, 8_000, 16_000, 30_000];

/** The `POST /deployments` body. */
export interface RegisterBody {
  arn: string;
  assume_role_arn?: string;
  force?: boolean;
}

export function registerBodyOf(props: DeploymentResourceProperties): RegisterBody {
  if (typeof props.Arn !== 'string' || props.Arn === '')
    throw new DeploymentRegistrationError('The resource needs an Arn (the published version to register)', undefined, undefined);
  const force = optionalBoolean(props.Force);
  return {
    arn: props.Arn,
    ...(props.AssumeRoleArn === undefined || props.AssumeRoleArn === '' ? {} : { assume_role_arn: props.AssumeRoleArn }),
    ...(force === undefined ? {} : { force }),
  };
}

function optionalBoolean(value: string | boolean | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new DeploymentRegistrationError(`Invalid Force '${String(value)}': use true or false`, undefined, undefined);
}

/** The event API Gateway would hand the admin function for this request on the construct's admin route. */
export function adminEvent(method: 'GET' | 'POST', path: string, routeKey: string, requestId: string, body?: unknown): ApiGatewayEvent {
  const bytes = body === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(body), 'utf8');
  const headers = { 'user-agent': 'restless-deployment-resource', ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
  const event = eventFromRequest({ method, url: path, headers, body: bytes });
  return {
    ...event,
    routeKey,
    requestContext: {
      ...event.requestContext,
      routeKey,
      requestId,
      accountId: 'cloudformation',
      apiId: 'cloudformation',
      domainName: 'cloudformation',
      domainPrefix: 'cloudformation',
    },
  };
}

export function registrationEvent(body: RegisterBody, requestId: string): ApiGatewayEvent {
  return adminEvent('POST', '/deployments', ROUTE_KEYS.deployments, requestId, body);
}

/** An admin answer: status and parsed JSON body. */
interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** The provider's `onEvent`. */
export function deploymentResourceHandler(deps: DeploymentResourceDeps): (event: DeploymentResourceEvent) => Promise<DeploymentResourceResult> {
  const delays = deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const log = (msg: string, fields: Record<string, unknown>) => deps.log?.log('info', msg, fields);

  const invokeAdmin = async (event: ApiGatewayEvent): Promise<AdminAnswer> => {
    const out = await deps.lambda.send(new InvokeCommand({ FunctionName: deps.adminFunctionName, Payload: Buffer.from(JSON.stringify(event)) }));
    const text = out.Payload === undefined ? '' : Buffer.from(out.Payload).toString('utf8');
    if (out.FunctionError !== undefined) {
      throw new DeploymentRegistrationError(
        `The admin function ${deps.adminFunctionName} failed (${out.FunctionError}): ${text.slice(0, 1000)}`,
        undefined,
        undefined,
      );
    }
    const res = responseFromResult(structuredResult(text, deps.adminFunctionName));
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(Buffer.from(res.body).toString('utf8'));
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      // not JSON: the status alone speaks
    }
    return { status: res.status, body };
  };

  /** Asks until the answer is not transient (or the retries are used up). */
  const askWithRetry = async (event: ApiGatewayEvent, arn: string): Promise<AdminAnswer> => {
    for (let attempt = 0; ; attempt++) {
      let answer: AdminAnswer | undefined;
      let failure: unknown;
      try {
        answer = await invokeAdmin(event);
      } catch (err) {
        if (!(err instanceof DeploymentRegistrationError)) throw err;
        failure = err;
      }
      const transient = answer === undefined || answer.status >= 500 || answer.body['restate_code'] === DISCOVERY_RESTATE_CODE;
      const delay = delays[attempt];
      if (!transient || delay === undefined) {
        if (answer === undefined) throw failure;
        return answer;
      }
      log('registration failed, retrying', { arn, status: answer?.status, message: answer?.body['message'] ?? (failure as Error).message, delayMs: delay });
      await sleep(delay);
    }
  };

  const register = async (event: DeploymentResourceEvent): Promise<DeploymentResourceResult> => {
    const body = registerBodyOf(event.ResourceProperties);
    const id = endpointIdOf({ kind: 'lambda', arn: body.arn, additionalHeaders: {} });
    const answer = await askWithRetry(registrationEvent(body, event.RequestId), body.arn);
    if (answer.status >= 200 && answer.status < 300) {
      const warnings = Array.isArray(answer.body['warnings']) ? answer.body['warnings'] : [];
      log('registered', { arn: body.arn, id, warnings });
      return { PhysicalResourceId: id, Data: { [DEPLOYMENT_ATTRIBUTES.deploymentId]: id, [DEPLOYMENT_ATTRIBUTES.services]: serviceNames(answer.body) } };
    }
    // The same ARN again (a stack update that left the version alone, a deployment retried after
    // a timeout, or one registered by hand before): a published version is immutable, so the
    // registered deployment already is this code. Only where it is called from may differ.
    if (answer.status === 409 && answer.body['restate_code'] === ENDPOINT_EXISTS_RESTATE_CODE) {
      const existing = await invokeAdmin(adminEvent('GET', `/deployments/${encodeURIComponent(id)}`, ROUTE_KEYS.deployment, event.RequestId));
      if (existing.status !== 200) throw refusal(body.arn, existing);
      const registeredRole = existing.body['assume_role_arn'];
      if ((registeredRole ?? undefined) !== body.assume_role_arn) {
        throw new DeploymentRegistrationError(
          `${body.arn} is already registered as deployment '${id}' with assume_role_arn ${registeredRole === undefined ? '(none)' : String(registeredRole)}, ` +
            `not ${body.assume_role_arn ?? '(none)'}: pass force to replace it in place, or publish a new version`,
          409,
          ENDPOINT_EXISTS_RESTATE_CODE,
        );
      }
      log('already registered', { arn: body.arn, id });
      return { PhysicalResourceId: id, Data: { [DEPLOYMENT_ATTRIBUTES.deploymentId]: id, [DEPLOYMENT_ATTRIBUTES.services]: serviceNames(existing.body) } };
    }
    throw refusal(body.arn, answer);
  };

  return async (event) => {
    switch (event.RequestType) {
      case 'Create':
      case 'Update':
        // A new version ARN is a new physical id: CloudFormation then deletes the old one, below.
        return register(event);
      case 'Delete':
        // Never unregister: invocations may still be pinned to this deployment. The operator
        // retires it with DELETE /deployments/{id} once drained (the admin answers 409 until then).
        log('left registered', { id: event.PhysicalResourceId });
        return { PhysicalResourceId: event.PhysicalResourceId ?? event.LogicalResourceId };
    }
  };
}

/**
 * The admin function always answers a structured result; anything else (which API Gateway would
 * pass on as a 200) must not count as a registration.
 */
function structuredResult(text: string, functionName: string): ApiGatewayResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || typeof (parsed as ApiGatewayResult).statusCode !== 'number') {
    throw new DeploymentRegistrationError(`The admin function ${functionName} answered no API Gateway result: ${text.slice(0, 200)}`, undefined, undefined);
  }
  return parsed as ApiGatewayResult;
}

function serviceNames(body: Record<string, unknown>): string {
  const services = Array.isArray(body['services']) ? (body['services'] as { name?: unknown }[]) : [];
  // Sorted: the register answer lists them in discovery order, the deployment view by name.
  return services
    .map((s) => String(s.name))
    .sort()
    .join(',');
}

function refusal(arn: string, answer: AdminAnswer): DeploymentRegistrationError {
  const code = typeof answer.body['restate_code'] === 'string' ? answer.body['restate_code'] : undefined;
  const message = typeof answer.body['message'] === 'string' ? answer.body['message'] : '(no message)';
  return new DeploymentRegistrationError(
    `The Restless admin API refused to register ${arn}: HTTP ${answer.status}${code === undefined ? '' : ` ${code}`}: ${message}`,
    answer.status,
    code,
  );
}
