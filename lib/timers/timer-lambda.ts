/**
 * The timer function's event boundary. Two shapes arrive:
 * - an SQS batch from the timer queue (kicks, wake-ups, Scheduler hand-overs): every record is
 *   handled at once, and the ones that failed are reported back (`ReportBatchItemFailures`), so
 *   SQS redelivers only those and, after `maxReceiveCount`, moves them to the dead-letter queue;
 * - a bare event from the EventBridge sweep rule (`{"kind":"sweep"}`).
 * A malformed bare event is logged and dropped (it would be retried for nothing); a malformed
 * record is reported failed, so it ends in the dead-letter queue where someone can look at it.
 */
import type { Logger } from '../log.js';
import { INVOCATION_ID_ATTR } from '../log.js';
import { parseTimerEvent, type TimerEvent } from './timer-event.js';
import type { TimerOutcome } from './timer-handler.js';

/** The parts of an SQS event record the handler reads. */
export interface SqsRecordLike {
  messageId: string;
  body: string;
  eventSource?: string;
}

export interface SqsBatchLike {
  Records: SqsRecordLike[];
}

/** What Lambda's SQS event source mapping reads back with `ReportBatchItemFailures`. */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export function isSqsBatch(raw: unknown): raw is SqsBatchLike {
  if (typeof raw !== 'object' || raw === null) return false;
  const records = (raw as { Records?: unknown }).Records;
  return Array.isArray(records) && records.every((r) => typeof r === 'object' && r !== null && (r as SqsRecordLike).eventSource === 'aws:sqs');
}

export function timerLambdaHandler(core: (event: TimerEvent) => Promise<TimerOutcome>, log: Logger) {
  return async (raw: unknown): Promise<TimerOutcome | SqsBatchResponse> => {
    if (isSqsBatch(raw)) return handleBatch(core, log, raw);
    const event = parseTimerEvent(raw);
    if (!event) {
      log.log('error', 'ignoring a malformed timer event', { event: raw });
      return { kind: 'ignored', reason: 'malformed event' };
    }
    return core(event);
  };
}

async function handleBatch(core: (event: TimerEvent) => Promise<TimerOutcome>, log: Logger, batch: SqsBatchLike): Promise<SqsBatchResponse> {
  const failed: { itemIdentifier: string }[] = [];
  await Promise.all(
    batch.Records.map(async (record) => {
      const event = parseTimerEvent(parseJson(record.body));
      if (!event) {
        log.log('error', 'malformed timer message; left for the dead-letter queue', { messageId: record.messageId, body: record.body.slice(0, 500) });
        failed.push({ itemIdentifier: record.messageId });
        return;
      }
      try {
        await core(event);
      } catch (err) {
        const id = event.kind === 'sweep' ? undefined : event.invocationId;
        log.log('error', 'timer message failed; SQS will redeliver it', { [INVOCATION_ID_ATTR]: id, messageId: record.messageId, error: err });
        failed.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failed };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
