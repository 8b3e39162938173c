import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config.js';
import { RestlessPropsError } from '../../lib/construct/restless.js';
import type { RestlessProps } from '../../lib/construct/restless.js';
import { functionId, synth } from './support.js';
import type { Resource } from './support.js';

function envOfAll(props: RestlessProps): Record<string, unknown>[] {
  const t = synth(props);
  return (['ingress', 'admin', 'timer'] as const).map((role) => {
    const fn = t.toJSON()['Resources'][functionId(t, role)] as Resource;
    return (fn.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
  });
}

describe('Restless props', () => {
  it('turn into the same environment variables on all three functions', () => {
    const envs = envOfAll({
      retry: { initialInterval: Duration.millis(100), factor: 3, maxInterval: Duration.seconds(30), maxAttempts: 5 },
      inactivityTimeout: Duration.seconds(90),
      abortTimeout: Duration.seconds(20),
      ingressDeadline: Duration.seconds(25),
      idempotencyDefaultRetention: Duration.hours(1),
      idempotencyMaxRetention: Duration.days(2),
      corsAllowedOrigins: ['https://app.example.com', 'https://admin.example.com'],
    });
    for (const env of envs) {
      expect(env).toMatchObject({
        [ENV.retryInitialIntervalMs]: '100',
        [ENV.retryFactor]: '3',
        [ENV.retryMaxIntervalMs]: '30000',
        [ENV.retryMaxAttempts]: '5',
        [ENV.inactivityTimeoutMs]: '90000',
        [ENV.abortTimeoutMs]: '20000',
        [ENV.ingressDeadlineMs]: '25000',
        [ENV.idempotencyDefaultRetentionSec]: '3600',
        [ENV.idempotencyMaxRetentionSec]: '172800',
        [ENV.corsAllowedOrigins]: 'https://app.example.com,https://admin.example.com',
      });
    }
  });

  it('set the CORS origins of the API', () => {
    synth({ corsAllowedOrigins: ['https://app.example.com'] }).hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: { AllowOrigins: ['https://app.example.com'] },
    });
  });

  it('add extra environment variables (log level, SDK endpoint overrides) beside the configuration', () => {
    for (const env of envOfAll({ environment: { AWS_ENDPOINT_URL_DYNAMODB: 'http://dynamodb:8000', RESTLESS_LOG_LEVEL: 'debug' } })) {
      expect(env).toMatchObject({ AWS_ENDPOINT_URL_DYNAMODB: 'http://dynamodb:8000', RESTLESS_LOG_LEVEL: 'debug', [ENV.retryFactor]: '2' });
    }
  });

  it('set the memory of the functions', () => {
    synth({ memorySize: 2048 }).allResourcesProperties('AWS::Lambda::Function', { MemorySize: 2048 });
  });

  const refused: { case: string; props: RestlessProps }[] = [
    { case: 'retry factor below 1', props: { retry: { factor: 0.5 } } },
    { case: 'zero initial interval', props: { retry: { initialInterval: Duration.millis(0) } } },
    { case: 'max interval below initial', props: { retry: { initialInterval: Duration.seconds(2), maxInterval: Duration.seconds(1) } } },
    { case: 'fractional max attempts', props: { retry: { maxAttempts: 1.5 } } },
    { case: 'zero max attempts', props: { retry: { maxAttempts: 0 } } },
    { case: 'ingress deadline at the API Gateway limit', props: { ingressDeadline: Duration.seconds(30) } },
    { case: 'attempt longer than the timer timeout', props: { inactivityTimeout: Duration.minutes(10), abortTimeout: Duration.minutes(5) } },
    { case: 'default retention above max', props: { idempotencyDefaultRetention: Duration.days(3), idempotencyMaxRetention: Duration.days(2) } },
    { case: 'sub-second retention', props: { idempotencyDefaultRetention: Duration.millis(1500) } },
    { case: 'no CORS origin', props: { corsAllowedOrigins: [] } },
    { case: 'CORS origin with a comma', props: { corsAllowedOrigins: ['https://a.example,https://b.example'] } },
    { case: 'endpoint that is not a Lambda ARN', props: { endpointFunctionArns: ['http://greeter:9080'] } },
    { case: 'environment overriding a configured variable', props: { environment: { [ENV.tableName]: 'other' } } },
    { case: 'environment overriding NODE_OPTIONS', props: { environment: { NODE_OPTIONS: '' } } },
    { case: 'a zero throttle rate', props: { throttle: { rateLimit: 0 } } },
    { case: 'a fractional burst', props: { throttle: { burstLimit: 1.5 } } },
    { case: 'a reserved concurrency of zero', props: { reservedConcurrency: { timer: 0 } } },
  ];
  it.each(refused)('are refused: $case', ({ props }) => {
    expect(() => synth(props)).toThrow(RestlessPropsError);
  });
});
