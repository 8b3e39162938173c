/**
 * The functions' module init (a Lambda cold start) loads only the AWS SDK packages every event
 * needs: DynamoDB's. The Lambda and STS clients (endpoints registered by ARN) load when first used
 * (lib/lazy-sdk.ts), and so do SQS and Scheduler (kicks and timers) except in the timer function.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/construct/restless.js';
import { buildLambdaBundles } from '../../lib/local/lambda-processes.js';

// Under the package, so the bundles' external `@aws-sdk/*` resolve as on Lambda (from node_modules).
const OUT = join(PACKAGE_ROOT, 'node_modules', '.cache', `restless-cold-start-${process.pid}`);
const ENV = {
  PATH: process.env.PATH ?? '',
  RESTLESS_TABLE_NAME: 'restless-cold-start',
  AWS_REGION: 'us-east-1',
  RESTLESS_TIMER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/restless-timers',
  RESTLESS_TIMER_QUEUE_ARN: 'arn:aws:sqs:us-east-1:123456789012:restless-timers',
  RESTLESS_DEAD_LETTER_QUEUE_ARN: 'arn:aws:sqs:us-east-1:123456789012:restless-dead-letters',
  RESTLESS_SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/restless-scheduler',
  RESTLESS_SCHEDULER_GROUP: 'restless-cold-start',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** Imports the bundle in a fresh node, as Lambda's init does, and lists the @aws-sdk packages it loaded. */
function sdkPackagesLoadedBy(bundle: string): string[] {
  const code = [
    "import { createRequire } from 'node:module';",
    'await import(process.argv[1]);',
    'const loaded = Object.keys(createRequire(import.meta.url).cache);',
    'const names = new Set(loaded.map((p) => /node_modules\\/(@aws-sdk\\/[^/]+)\\//.exec(p)?.[1]).filter(Boolean));',
    'process.stdout.write(JSON.stringify([...names].sort()));',
  ].join('\n');
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', code, bundle], { cwd: PACKAGE_ROOT, env: ENV, encoding: 'utf8', timeout: 60_000 });
  if (res.status !== 0) throw new Error(`importing ${bundle} failed: ${res.stderr || res.stdout}`);
  return JSON.parse(res.stdout) as string[];
}

describe('function cold start', () => {
  let bundles: Awaited<ReturnType<typeof buildLambdaBundles>>;
  beforeAll(async () => {
    bundles = await buildLambdaBundles(OUT);
  }, 60_000);
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));

  it.each([
    { role: 'ingress' as const, loads: ['@aws-sdk/client-dynamodb'], not: ['client-lambda', 'client-sts', 'client-sqs', 'client-scheduler'] },
    { role: 'admin' as const, loads: ['@aws-sdk/client-dynamodb'], not: ['client-lambda', 'client-sts', 'client-sqs', 'client-scheduler'] },
    // Most timer batches kick or schedule: the timer function loads SQS and Scheduler during init.
    { role: 'timer' as const, loads: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-scheduler', '@aws-sdk/client-sqs'], not: ['client-lambda', 'client-sts'] },
  ])('starts $role with the SDK clients every event needs, and no others', ({ role, loads, not }) => {
    const loaded = sdkPackagesLoadedBy(bundles[role].path);
    // The check sees the packages a bundle loads...
    for (const name of loads) expect(loaded).toContain(name);
    // ...and the clients only some events need are not among them.
    for (const name of not) expect(loaded).not.toContain(`@aws-sdk/${name}`);
  });
});
