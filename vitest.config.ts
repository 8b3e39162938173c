import { defineConfig } from 'vitest/config';

/**
 * Two projects. `unit`: pure code and in-process fakes — no DynamoDB Local, no child processes, no
 * CDK synth; seconds (`npm run test:unit`). `integration`: everything else, against DynamoDB Local
 * (started once for the run), real SDK endpoints, runners and the synthesized stack.
 */
const UNIT = [
  'test/protocol/**/*.test.ts',
  'test/driver/plan.test.ts',
  'test/driver/wait-for-result.test.ts',
  'test/ingress/framing.test.ts',
  'test/registry/schema.test.ts',
  'test/registry/discovery.test.ts',
  'test/timers/aws-kicker.test.ts',
  'test/endpoint/**/*.test.ts',
  'test/tracing/**/*.test.ts',
  'test/chaos/invariants.test.ts',
  'test/http/**/*.test.ts',
  'test/cli/sigv4.test.ts',
  'test/cli/console-proxy.test.ts',
  'test/admin/journal-view.test.ts',
  'test/deploy/register-deployment.test.ts',
  'test/store/dynamo/lean-client.test.ts',
  'test/store/dynamo/codec.test.ts',
];

const shared = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  silent: 'passed-only' as const,
  env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', RESTLESS_LOG_LEVEL: 'warn' },
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'unit', include: UNIT } },
      { test: { ...shared, name: 'integration', include: ['test/**/*.test.ts'], exclude: UNIT, globalSetup: ['test/support/global-setup.ts'] } },
    ],
  },
});
