import { App, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { propsFromContext } from '../../lib/construct/context.js';

const fromContext = (context: Record<string, unknown>) => propsFromContext(new App({ context }).node);

describe('propsFromContext', () => {
  it('gives no settings when no context is set', () => {
    const props = fromContext({});
    expect(props).toMatchObject({
      tableName: undefined,
      corsAllowedOrigins: undefined,
      endpointFunctionArns: undefined,
      allowInvokeAnyFunctionInAccount: false,
    });
    expect(props.retry).toEqual({ initialInterval: undefined, factor: undefined, maxInterval: undefined, maxAttempts: undefined });
  });

  it('reads -c strings (numbers, comma lists, JSON objects)', () => {
    const props = fromContext({
      'restless:retryMaxAttempts': '5',
      'restless:inactivityTimeoutMs': '90000',
      'restless:idempotencyMaxRetentionSec': '86400',
      'restless:corsAllowedOrigins': 'https://a.example, https://b.example',
      'restless:endpointFunctionArns': 'arn:aws:lambda:eu-west-1:123456789012:function:greeter',
      'restless:allowInvokeAnyFunctionInAccount': 'true',
      'restless:tableRemovalPolicy': 'destroy',
      'restless:environment': '{"AWS_ENDPOINT_URL_DYNAMODB":"http://dynamodb:8000"}',
    });
    expect(props.retry?.maxAttempts).toBe(5);
    expect(props.inactivityTimeout?.toMilliseconds()).toBe(90_000);
    expect(props.idempotencyMaxRetention?.toSeconds()).toBe(86_400);
    expect(props.corsAllowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(props.endpointFunctionArns).toEqual(['arn:aws:lambda:eu-west-1:123456789012:function:greeter']);
    expect(props.allowInvokeAnyFunctionInAccount).toBe(true);
    expect(props.tableRemovalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(props.environment).toEqual({ AWS_ENDPOINT_URL_DYNAMODB: 'http://dynamodb:8000' });
  });

  it('reads cdk.json JSON values (numbers, arrays, objects)', () => {
    const props = fromContext({
      'restless:retryInitialIntervalMs': 100,
      'restless:corsAllowedOrigins': ['https://a.example'],
      'restless:environment': { LOG_LEVEL: 'debug' },
      'restless:allowInvokeAnyFunctionInAccount': true,
    });
    expect(props.retry?.initialInterval?.toMilliseconds()).toBe(Duration.millis(100).toMilliseconds());
    expect(props.corsAllowedOrigins).toEqual(['https://a.example']);
    expect(props.environment).toEqual({ LOG_LEVEL: 'debug' });
    expect(props.allowInvokeAnyFunctionInAccount).toBe(true);
  });

  it('reads the ingress protection: throttle, authorization, reserved concurrency', () => {
    const props = fromContext({
      'restless:throttleRateLimit': '20',
      'restless:throttleBurstLimit': 40,
      'restless:ingressAuthorization': '{"kind":"jwt","issuer":"https://issuer.example","audience":["app"]}',
      'restless:reservedConcurrency': '{"ingress":50,"timer":"20"}',
    });
    expect(props.throttle).toEqual({ rateLimit: 20, burstLimit: 40 });
    expect(props.ingressAuthorization).toEqual({ kind: 'jwt', issuer: 'https://issuer.example', audience: ['app'], identitySource: undefined });
    expect(props.reservedConcurrency).toEqual({ ingress: 50, timer: 20 });
    expect(fromContext({ 'restless:ingressAuthorization': 'iam' }).ingressAuthorization).toEqual({ kind: 'iam' });
    expect(fromContext({}).throttle).toBeUndefined();
  });

  it.each([
    { case: 'an authorization that is none of none, iam, jwt', context: { 'restless:ingressAuthorization': 'cognito' } },
    { case: 'a JWT authorization without audience', context: { 'restless:ingressAuthorization': '{"kind":"jwt","issuer":"https://i.example"}' } },
    { case: 'reserved concurrency for an unknown function', context: { 'restless:reservedConcurrency': '{"worker":3}' } },
    { case: 'a number that is not one', context: { 'restless:retryFactor': 'fast' } },
    { case: 'an unknown removal policy', context: { 'restless:tableRemovalPolicy': 'keep' } },
    { case: 'an environment that is not an object', context: { 'restless:environment': '["A"]' } },
  ])('refuses $case', ({ context }) => {
    expect(() => fromContext(context)).toThrow(/restless:/);
  });
});
