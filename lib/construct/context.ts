/**
 * Construct props from CDK context (`cdk.json` "context" or `-c key=value`), so `bin/app.ts` can be
 * configured without editing code. Every key is prefixed `restless:`; values given with `-c` arrive
 * as strings, values from cdk.json keep their JSON type, and both are accepted.
 *
 * | key | prop |
 * |---|---|
 * | `restless:tableName` | tableName |
 * | `restless:tableRemovalPolicy` (`retain` \| `destroy` \| `snapshot`) | tableRemovalPolicy |
 * | `restless:retryInitialIntervalMs`, `restless:retryFactor`, `restless:retryMaxIntervalMs`, `restless:retryMaxAttempts` | retry |
 * | `restless:inactivityTimeoutMs`, `restless:abortTimeoutMs`, `restless:ingressDeadlineMs` | timeouts |
 * | `restless:idempotencyDefaultRetentionSec`, `restless:idempotencyMaxRetentionSec` | idempotency |
 * | `restless:corsAllowedOrigins` (comma list or JSON array) | corsAllowedOrigins |
 * | `restless:endpointFunctionArns`, `restless:endpointAssumeRoleArns` (comma list or JSON array) | endpoint grants |
 * | `restless:allowInvokeAnyFunctionInAccount` (`true`) | allowInvokeAnyFunctionInAccount |
 * | `restless:throttleRateLimit`, `restless:throttleBurstLimit` | throttle |
 * | `restless:ingressAuthorization` (`none` \| `iam` \| JSON `{"kind":"jwt","issuer":…,"audience":[…]}`) | ingressAuthorization |
 * | `restless:reservedConcurrency` (JSON object, e.g. `{"ingress":50,"timer":20}`) | reservedConcurrency |
 * | `restless:memorySize` | memorySize |
 * | `restless:environment` (JSON object) | environment |
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Node } from 'constructs';
import type { FunctionRole, IngressAuthorization, RestlessProps, RestlessRetryProps } from './restless.js';

export const CONTEXT_PREFIX = 'restless:';

export function propsFromContext(node: Node): RestlessProps {
  const get = (key: string): unknown => node.tryGetContext(CONTEXT_PREFIX + key);
  const num = (key: string): number | undefined => {
    const raw = get(key);
    if (raw === undefined || raw === null || raw === '') return undefined;
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n)) throw new Error(`context ${CONTEXT_PREFIX}${key} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  };
  const millis = (key: string) => {
    const n = num(key);
    return n === undefined ? undefined : Duration.millis(n);
  };
  const seconds = (key: string) => {
    const n = num(key);
    return n === undefined ? undefined : Duration.seconds(n);
  };
  const list = (key: string): string[] | undefined => {
    const raw = get(key);
    if (raw === undefined || raw === null || raw === '') return undefined;
    if (Array.isArray(raw)) return raw.map(String);
    const text = String(raw).trim();
    if (text.startsWith('[')) return (JSON.parse(text) as unknown[]).map(String);
    return text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  };
  const object = (key: string): Record<string, string> | undefined => {
    const raw = get(key);
    if (raw === undefined || raw === null || raw === '') return undefined;
    const value: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`context ${CONTEXT_PREFIX}${key} must be a JSON object`);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  };

  const retry: RestlessRetryProps = {
    initialInterval: millis('retryInitialIntervalMs'),
    factor: num('retryFactor'),
    maxInterval: millis('retryMaxIntervalMs'),
    maxAttempts: num('retryMaxAttempts'),
  };
  const tableName = get('tableName');
  const rateLimit = num('throttleRateLimit');
  const burstLimit = num('throttleBurstLimit');
  const reserved = object('reservedConcurrency');
  return {
    tableName: typeof tableName === 'string' && tableName !== '' ? tableName : undefined,
    tableRemovalPolicy: removalPolicy(get('tableRemovalPolicy')),
    retry,
    inactivityTimeout: millis('inactivityTimeoutMs'),
    abortTimeout: millis('abortTimeoutMs'),
    ingressDeadline: millis('ingressDeadlineMs'),
    idempotencyDefaultRetention: seconds('idempotencyDefaultRetentionSec'),
    idempotencyMaxRetention: seconds('idempotencyMaxRetentionSec'),
    corsAllowedOrigins: list('corsAllowedOrigins'),
    endpointFunctionArns: list('endpointFunctionArns'),
    endpointAssumeRoleArns: list('endpointAssumeRoleArns'),
    allowInvokeAnyFunctionInAccount: String(get('allowInvokeAnyFunctionInAccount')) === 'true',
    throttle: rateLimit === undefined && burstLimit === undefined ? undefined : { rateLimit, burstLimit },
    ingressAuthorization: ingressAuthorization(get('ingressAuthorization')),
    reservedConcurrency: reserved === undefined ? undefined : reservedConcurrency(reserved),
    memorySize: num('memorySize'),
    environment: object('environment'),
  };
}

function ingressAuthorization(raw: unknown): IngressAuthorization | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (raw === 'none' || raw === 'iam') return { kind: raw };
  let value: unknown = raw;
  try {
    if (typeof raw === 'string') value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  const v = value as { kind?: unknown; issuer?: unknown; audience?: unknown; identitySource?: unknown };
  if (v?.kind === 'jwt' && typeof v.issuer === 'string' && Array.isArray(v.audience) && v.audience.length > 0) {
    return {
      kind: 'jwt',
      issuer: v.issuer,
      audience: v.audience.map(String),
      identitySource: Array.isArray(v.identitySource) ? v.identitySource.map(String) : undefined,
    };
  }
  throw new Error(`context ${CONTEXT_PREFIX}ingressAuthorization must be none, iam or {"kind":"jwt","issuer":…,"audience":[…]}, got ${JSON.stringify(raw)}`);
}

function reservedConcurrency(value: Record<string, string>): Partial<Record<FunctionRole, number>> {
  const out: Partial<Record<FunctionRole, number>> = {};
  for (const [role, n] of Object.entries(value)) {
    if (role !== 'ingress' && role !== 'admin' && role !== 'timer')
      throw new Error(`context ${CONTEXT_PREFIX}reservedConcurrency: unknown function '${role}' (ingress, admin, timer)`);
    out[role] = Number(n);
  }
  return out;
}

function removalPolicy(raw: unknown): RemovalPolicy | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  switch (String(raw).toLowerCase()) {
    case 'retain':
      return RemovalPolicy.RETAIN;
    case 'destroy':
      return RemovalPolicy.DESTROY;
    case 'snapshot':
      return RemovalPolicy.SNAPSHOT;
    default:
      throw new Error(`context ${CONTEXT_PREFIX}tableRemovalPolicy must be retain, destroy or snapshot, got ${JSON.stringify(raw)}`);
  }
}
