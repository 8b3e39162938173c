/**
 * A middy middleware for the Lambda functions: the log lines of an invocation are written before
 * it returns (lib/log.ts holds them until the end of the event-loop turn otherwise).
 */
import { flushLogs } from './log.js';

export function flushLogsAfterEachInvocation(): { after: () => void; onError: () => void } {
  return { after: flushLogs, onError: flushLogs };
}
