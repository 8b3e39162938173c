/**
 * The HTTP API in front of the ingress and admin functions: one `$default` stage with throttling
 * and JSON access logs, the ingress catch-all (public unless an authorizer is asked for) and the
 * admin routes (always IAM).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CorsHttpMethod, HttpApi, HttpMethod, HttpNoneAuthorizer, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS } from '../ingress/cors.js';
import { acknowledge, NAG } from './nag.js';

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

/** Who may call the ingress routes. The admin routes always require IAM (SigV4). */
export type IngressAuthorization =
  | { readonly kind: 'none' }
  | { readonly kind: 'iam' }
  | {
      readonly kind: 'jwt';
      /** Token issuer URL, e.g. a Cognito user pool `https://cognito-idp.{region}.amazonaws.com/{poolId}`. */
      readonly issuer: string;
      /** Accepted `aud` (or Cognito `client_id`) values. */
      readonly audience: string[];
      /** @default ['$request.header.Authorization'] */
      readonly identitySource?: string[];
    };

/** Stage throttling: steady requests per second and burst, across all routes. */
export interface ApiThrottle {
  /** @default 100 */
  readonly rateLimit?: number;
  /** @default 200 */
  readonly burstLimit?: number;
}

export const DEFAULT_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;

/**
 * One JSON line per request: what an operator needs to find a request (id, route, status,
 * latency, caller, authorizer and integration errors) without request bodies or headers.
 */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTimeEpoch',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  caller: '$context.identity.userArn',
  method: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
} as const;

export interface RestlessApiOptions {
  ingress: IFunction;
  admin: IFunction;
  corsAllowedOrigins: string[];
  throttle: Required<ApiThrottle>;
  authorization: IngressAuthorization;
  logRetention: RetentionDays;
}

export interface RestlessApi {
  api: HttpApi;
  stage: HttpStage;
  accessLogs: LogGroup;
}

export function createApi(scope: Construct, opts: RestlessApiOptions): RestlessApi {
  const api = new HttpApi(scope, 'Api', {
    description: 'Restless ingress and admin (IAM) API',
    createDefaultStage: false,
    corsPreflight: {
      allowOrigins: opts.corsAllowedOrigins,
      allowMethods: CORS_ALLOW_METHODS.map((m) => CorsHttpMethod[m]),
      allowHeaders: [...CORS_ALLOW_HEADERS],
      exposeHeaders: [...CORS_EXPOSE_HEADERS],
      maxAge: Duration.seconds(CORS_MAX_AGE_SECONDS),
    },
  });
  const accessLogs = new LogGroup(scope, 'ApiAccessLogs', { retention: opts.logRetention, removalPolicy: RemovalPolicy.DESTROY });
  const stage = new HttpStage(scope, 'ApiStage', {
    httpApi: api,
    stageName: '$default',
    autoDeploy: true,
    throttle: opts.throttle,
    accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)) },
  });

  const [ingressRoute] = api.addRoutes({
    path: INGRESS_ROUTE_PATH,
    methods: [HttpMethod.ANY],
    integration: new HttpLambdaIntegration('Ingress', opts.ingress),
    authorizer: ingressAuthorizer(opts.authorization),
  });
  if (opts.authorization.kind === 'none') acknowledge(ingressRoute!, NAG.publicIngress);
  const adminIntegration = new HttpLambdaIntegration('Admin', opts.admin);
  const iam = new HttpIamAuthorizer();
  for (const path of ADMIN_ROUTE_PATHS) api.addRoutes({ path, methods: [HttpMethod.ANY], integration: adminIntegration, authorizer: iam });
  return { api, stage, accessLogs };
}

function ingressAuthorizer(auth: IngressAuthorization): IHttpRouteAuthorizer {
  switch (auth.kind) {
    case 'none':
      return new HttpNoneAuthorizer();
    case 'iam':
      return new HttpIamAuthorizer();
    case 'jwt':
      return new HttpJwtAuthorizer('IngressJwt', auth.issuer, { jwtAudience: auth.audience, identitySource: auth.identitySource });
  }
}
