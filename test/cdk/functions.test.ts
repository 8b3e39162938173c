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
      [ENV.timerFunctionArn]: expect.anything(),
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('leaves the retry max attempts unset by default (unbounded)', () => {
    for (const role of ROLES) expect(envOf(role)).not.toHaveProperty(ENV.retryMaxAttempts);
  });

  it('points ingress and admin at the timer function by its Arn attribute', () => {
    const timer = functionId(template, 'timer');
    expect(envOf('ingress')[ENV.timerFunctionArn]).toEqual({ 'Fn::GetAtt': [timer, 'Arn'] });
    expect(envOf('admin')[ENV.timerFunctionArn]).toEqual({ 'Fn::GetAtt': [timer, 'Arn'] });
  });

  it('gives the timer its own ARN spelled from its fixed name (no self-reference)', () => {
    const fn = template.toJSON()['Resources'][functionId(template, 'timer')] as Resource;
    const name = fn.Properties?.['FunctionName'] as string;
    expect(name).toMatch(/^[A-Za-z0-9-]{1,64}$/);
    const arn = JSON.stringify(envOf('timer')[ENV.timerFunctionArn]);
    expect(arn).toContain(`:function:${name}`);
    expect(arn).not.toContain('Fn::GetAtt');
  });

  it('writes each function to its own log group with a retention', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 3);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.allResourcesProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('Logs') } } });
  });

  it('bundles functions/{ingress,admin,timer}.ts of this package by default', () => {
    expect(FUNCTION_ENTRIES).toEqual({
      ingress: `${PACKAGE_ROOT}functions/ingress.ts`,
      admin: `${PACKAGE_ROOT}functions/admin.ts`,
      timer: `${PACKAGE_ROOT}functions/timer.ts`,
    });
  });
});
