import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Template } from 'aws-cdk-lib/assertions';
import { ADMIN_ROUTE_PATHS, CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS } from '../../lib/construct/restless.js';
import type { HttpRequest } from '../../lib/http/types.js';
import { preflight } from '../../lib/ingress/cors.js';
import { functionId, synth } from './support.js';
import type { Resource } from './support.js';

describe('Restless HTTP API', () => {
  let template: Template;
  let routes: Record<string, Resource>;
  let integrations: Record<string, Resource>;
  beforeAll(() => {
    template = synth();
    routes = Object.fromEntries(
      Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => [(r as Resource).Properties?.['RouteKey'] as string, r as Resource]),
    );
    integrations = template.findResources('AWS::ApiGatewayV2::Integration') as Record<string, Resource>;
  });

  /** The function logical id a route's integration calls. */
  const targetOf = (routeKey: string): string => {
    const target = routes[routeKey]?.Properties?.['Target'] as { 'Fn::Join': [string, [string, { Ref: string }]] };
    const integration = integrations[target['Fn::Join'][1][1].Ref];
    return (integration?.Properties?.['IntegrationUri'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  };

  it('is one HTTP API with one auto-deployed default stage', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default', AutoDeploy: true });
  });

  it('sends the catch-all ANY /{proxy+} to the ingress function without authorization', () => {
    expect(routes['ANY /{proxy+}']?.Properties).toMatchObject({ AuthorizationType: 'NONE' });
    expect(targetOf('ANY /{proxy+}')).toBe(functionId(template, 'ingress'));
  });

  it('has exactly the catch-all and the admin routes', () => {
    expect(Object.keys(routes).sort()).toEqual(['ANY /{proxy+}', ...ADMIN_ROUTE_PATHS.map((p) => `ANY ${p}`)].sort());
  });

  it.each(ADMIN_ROUTE_PATHS.map((path) => ({ case: path, path })))('sends ANY $case to the admin function under AWS_IAM', ({ path }) => {
    expect(routes[`ANY ${path}`]?.Properties).toMatchObject({ AuthorizationType: 'AWS_IAM' });
    expect(targetOf(`ANY ${path}`)).toBe(functionId(template, 'admin'));
  });

  it.each([
    { case: 'Connect unary', path: '/org.example.Greeter/Greet' },
    { case: 'output peek', path: '/restate/invocation/inv_1/output' },
    { case: 'attach', path: '/restate/invocation/inv_1/attach' },
    { case: 'dev.restate.Ingress', path: '/dev.restate.Ingress/Invoke' },
  ])('leaves $case on the ingress (no admin route claims its first segment)', ({ path }) => {
    const first = path.split('/')[1];
    const claimed = ADMIN_ROUTE_PATHS.filter((p) => p.split('/')[1] === first);
    expect(claimed).toEqual([]);
  });

  it('integrates both functions with payload format 2.0', () => {
    const all = Object.values(integrations);
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const i of all) expect(i.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
  });

  it('answers CORS preflight for the allowed origins with the Connect / gRPC-web headers', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['*'],
        AllowMethods: Match.arrayWith(['POST', 'GET', 'OPTIONS']),
        AllowHeaders: [...CORS_ALLOW_HEADERS],
        ExposeHeaders: [...CORS_EXPOSE_HEADERS],
        MaxAge: 7200,
      },
    });
    expect(CORS_ALLOW_HEADERS).toEqual(
      expect.arrayContaining(['content-type', 'connect-protocol-version', 'x-grpc-web', 'x-user-agent', 'idempotency-key', 'idempotency-retention-period']),
    );
    expect(CORS_EXPOSE_HEADERS).toEqual(expect.arrayContaining(['x-restate-id', 'idempotency-expires', 'grpc-status', 'grpc-message']));
  });

  it('configures API Gateway with the same CORS rules the local servers answer with', () => {
    const req: HttpRequest = {
      method: 'OPTIONS',
      path: '/greeter/greet',
      query: new URLSearchParams(),
      headers: new Headers({ origin: 'https://app.example' }),
      body: new Uint8Array(),
    };
    const local = preflight(req, ['*']);
    const api = template.findResources('AWS::ApiGatewayV2::Api');
    const cors = Object.values(api)[0]!.Properties.CorsConfiguration as {
      AllowHeaders: string[];
      ExposeHeaders: string[];
      AllowMethods: string[];
      MaxAge: number;
    };
    const list = (v: string | undefined) =>
      (v ?? '')
        .split(',')
        .map((x) => x.trim())
        .sort();
    expect(list(local.headers['access-control-allow-headers'])).toEqual([...cors.AllowHeaders].sort());
    expect(list(local.headers['access-control-expose-headers'])).toEqual([...cors.ExposeHeaders].sort());
    expect(list(local.headers['access-control-allow-methods'])).toEqual([...cors.AllowMethods].sort());
    expect(Number(local.headers['access-control-max-age'])).toBe(cors.MaxAge);
  });

  it('outputs the API URL', () => {
    const apiId = Object.keys(template.findResources('AWS::ApiGatewayV2::Api'))[0];
    expect(template.findOutputs('ApiUrl')['ApiUrl']?.['Value']).toEqual({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] });
  });
});

describe('Restless HTTP API protection', () => {
  let template: Template;
  beforeAll(() => {
    template = synth();
  });

  it('throttles the stage by default (100 requests/s, burst 200)', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 } });
  });

  it('takes the throttle from props', () => {
    synth({ throttle: { rateLimit: 25, burstLimit: 50 } }).hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 },
    });
  });

  it('writes one JSON access log line per request to a log group with a retention', () => {
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0] as Resource;
    const settings = stage.Properties?.['AccessLogSettings'] as { DestinationArn: { 'Fn::GetAtt': [string, string] }; Format: string };
    const logGroup = settings.DestinationArn['Fn::GetAtt'][0];
    expect(logGroup).toMatch(/^RestlessApiAccessLogs/);
    expect(template.toJSON()['Resources'][logGroup].Properties).toMatchObject({ RetentionInDays: 30 });
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      routeKey: '$context.routeKey',
      integrationError: '$context.integrationErrorMessage',
      caller: '$context.identity.userArn',
    });
  });

  it('can put the ingress behind IAM (SigV4)', () => {
    const t = synth({ ingressAuthorization: { kind: 'iam' } });
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /{proxy+}', AuthorizationType: 'AWS_IAM' });
  });

  it('can put the ingress behind a JWT authorizer, leaving the admin routes on IAM', () => {
    const t = synth({ ingressAuthorization: { kind: 'jwt', issuer: 'https://issuer.example.com', audience: ['restless'] } });
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: 'https://issuer.example.com', Audience: ['restless'] },
    });
    const authorizer = Object.keys(t.findResources('AWS::ApiGatewayV2::Authorizer'))[0]!;
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /{proxy+}', AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizer } });
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /endpoints', AuthorizationType: 'AWS_IAM' });
  });
});
