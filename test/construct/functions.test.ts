import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Template } from 'aws-cdk-lib/assertions';
import { DEFAULTS, ENV } from '../../lib/config.js';
import { FUNCTION_ENTRIES, PACKAGE_ROOT } from '../../lib/construct/restless.js';
import { functionId, synth } from './support.js';
import type { Resource } from './support.js';

const ROLES = ['ingress', 'admin', 'timer'] as const;

describe('Restless functions', () => {
  let template: Template;
  beforeAll(() => {
    template = synth();
  });

  const envOf = (role: (typeof ROLES)[number]) => {
    const fn = template.toJSON()['Resources'][functionId(template, role)] as Resource;
    return (fn.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
  };

  it('creates exactly three functions', () => {
    template.resourceCountIs('AWS::Lambda::Function', 3);
  });

  it.each(ROLES.map((role) => ({ case: role, role })))('runs $case on nodejs22.x, arm64, exporting handler', ({ role }) => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: `Restless ${role}`,
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
  });

  it.each([
    { case: 'ingress: the API Gateway 30 s limit', role: 'ingress' as const, timeout: 30 },
    { case: 'admin: the API Gateway 30 s limit', role: 'admin' as const, timeout: 30 },
    { case: 'timer: the Lambda maximum', role: 'timer' as const, timeout: 900 },
  ])('sets the timeout of $case', ({ role, timeout }) => {
    template.hasResourceProperties('AWS::Lambda::Function', { Description: `Restless ${role}`, Timeout: timeout });
  });

  it.each(ROLES.map((role) => ({ case: role, role })))('passes the runtime configuration to $case', ({ role }) => {
    expect(envOf(role)).toMatchObject({
      [ENV.tableName]: { Ref: expect.stringMatching(/^RestlessTable/) },
      [ENV.retryInitialIntervalMs]: String(DEFAULTS.retry.initialIntervalMs),
      [ENV.retryFactor]: String(DEFAULTS.retry.factor),
      [ENV.retryMaxIntervalMs]: String(DEFAULTS.retry.maxIntervalMs),
      [ENV.inactivityTimeoutMs]: String(DEFAULTS.inactivityTimeoutMs),
      [ENV.abortTimeoutMs]: String(DEFAULTS.abortTimeoutMs),
      [ENV.ingressDeadlineMs]: String(DEFAULTS.ingressDeadlineMs),
      [ENV.idempotencyDefaultRetentionSec]: String(DEFAULTS.idempotencyDefaultRetentionSec),
      [ENV.idempotencyMaxRetentionSec]: String(DEFAULTS.idempotencyMaxRetentionSec),
      [ENV.corsAllowedOrigins]: '*',
      [ENV.schedulerGroup]: expect.any(String),
      [ENV.schedulerRoleArn]: { 'Fn::GetAtt': [expect.stringMatching(/^RestlessSchedulerRole/), 'Arn'] },
      [ENV.timerQueueUrl]: { Ref: expect.stringMatching(/^RestlessTimerQueue/) },
      [ENV.timerQueueArn]: { 'Fn::GetAtt': [expect.stringMatching(/^RestlessTimerQueue/), 'Arn'] },
      [ENV.deadLetterQueueArn]: { 'Fn::GetAtt': [expect.stringMatching(/^RestlessDeadLetters/), 'Arn'] },
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('leaves the retry max attempts unset by default (unbounded)', () => {
    for (const role of ROLES) expect(envOf(role)).not.toHaveProperty(ENV.retryMaxAttempts);
  });

  it('names no function: CloudFormation generates every name (no function needs its own ARN)', () => {
    for (const role of ROLES) {
      const fn = template.toJSON()['Resources'][functionId(template, role)] as Resource;
      expect(fn.Properties?.['FunctionName']).toBeUndefined();
      expect(JSON.stringify(fn.Properties?.['Environment'])).not.toContain(functionId(template, role));
    }
  });

  it('writes each function to its own log group with a retention, in Lambda JSON log format', () => {
    for (const role of ROLES) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: `Restless ${role}`,
        LoggingConfig: {
          LogGroup: { Ref: Match.stringLikeRegexp(`^Restless${role.charAt(0).toUpperCase()}${role.slice(1)}Logs`) },
          LogFormat: 'JSON',
          SystemLogLevel: 'INFO',
          ApplicationLogLevel: 'DEBUG',
        },
      });
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('traces every function with X-Ray (active tracing)', () => {
    template.allResourcesProperties('AWS::Lambda::Function', { TracingConfig: { Mode: 'Active' } });
  });

  it('reserves no concurrency by default', () => {
    template.allResourcesProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: Match.absent() });
  });

  it('reserves concurrency per function when asked', () => {
    const t = synth({ reservedConcurrency: { ingress: 50, timer: 10 } });
    t.hasResourceProperties('AWS::Lambda::Function', { Description: 'Restless ingress', ReservedConcurrentExecutions: 50 });
    t.hasResourceProperties('AWS::Lambda::Function', { Description: 'Restless timer', ReservedConcurrentExecutions: 10 });
    t.hasResourceProperties('AWS::Lambda::Function', { Description: 'Restless admin', ReservedConcurrentExecutions: Match.absent() });
  });

  it('bundles functions/{ingress,admin,timer}.ts of this package by default', () => {
    expect(FUNCTION_ENTRIES).toEqual({
      ingress: `${PACKAGE_ROOT}functions/ingress.ts`,
      admin: `${PACKAGE_ROOT}functions/admin.ts`,
      timer: `${PACKAGE_ROOT}functions/timer.ts`,
    });
  });
});
