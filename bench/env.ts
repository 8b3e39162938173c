/**
 * Imported first by bench/run.ts: settings that must be in place before any SDK module is
 * evaluated (the Restate SDK reads its debug level at import time).
 */
process.env.RESTATE_DEBUG_LOGGING ??= 'OFF';
process.env.RESTLESS_LOG_LEVEL ??= 'warn';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Async stack traces deep enough to reach from the DynamoDB middleware back to the driver.
Error.stackTraceLimit = 80;

/** Lines the example endpoint (Restate SDK) writes through `console`; errors are counted, not shown. */
export const sdkLog = { errors: 0, firstError: '' };

for (const level of ['log', 'info', 'debug', 'error', 'warn'] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('[restate]')) {
      if (level === 'error' || args[0].includes('ERROR:')) {
        sdkLog.errors++;
        sdkLog.firstError ||= args.map(String).join(' ').split('\n')[0]!.slice(0, 200);
      }
      return;
    }
    original(...args);
  };
}
