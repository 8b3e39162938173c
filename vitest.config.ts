import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    silent: 'passed-only',
    env: { AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1', RESTLESS_LOG_LEVEL: 'warn' },
  },
});
