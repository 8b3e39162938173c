/**
 * Faults for one DynamoDB document client, injected above the client's own retries (as a crash or a network
 * partition would be): a write refused before it is sent, a write whose answer is lost after it
 * landed, a transaction conflict, throttling. Rules match by command name and fire a given number
 * of times.
 */
import { TransactionCanceledException, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { DocumentClient } from '../../lib/store/dynamo/document-client.js';

export type FaultKind = 'fail-before' | 'lose-answer' | 'conflict' | 'throttle';

export interface FaultRule {
  command: string;
  kind: FaultKind;
  /** How many matching requests it hits (default 1). */
  times?: number;
  /** Only requests whose input contains this text (e.g. a key). */
  matching?: string;
}

export class LostAnswerError extends Error {
  override name = 'TimeoutError';
}

export function injectFaults(doc: DocumentClient): { add(rule: FaultRule): void; hits: Record<FaultKind, number>; clear(): void } {
  const rules: (FaultRule & { left: number })[] = [];
  const hits: Record<FaultKind, number> = { 'fail-before': 0, 'lose-answer': 0, conflict: 0, throttle: 0 };
  doc.use(async (call, next) => {
    const command = call.operation;
    const rule = rules.find(
      (r) =>
        r.left > 0 &&
        r.command === command &&
        (!r.matching || JSON.stringify(call.input, (_k, v: unknown) => (v instanceof Uint8Array ? '' : v)).includes(r.matching)),
    );
    if (!rule) return next();
    rule.left--;
    hits[rule.kind]++;
    switch (rule.kind) {
      case 'fail-before':
        throw Object.assign(new Error('connection reset before the request was sent'), { name: 'ECONNRESET', $retryable: {} });
      case 'throttle':
        throw new ProvisionedThroughputExceededException({ message: 'injected throttling', $metadata: {} });
      case 'conflict': {
        const items = ((call.input.TransactItems as unknown[] | undefined) ?? [{}]).map((_, i) => ({
          Code: i === 0 ? 'TransactionConflict' : 'None',
        }));
        throw new TransactionCanceledException({
          message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]',
          $metadata: {},
          CancellationReasons: items,
        });
      }
      case 'lose-answer': {
        await next();
        throw new LostAnswerError('the answer was lost after the write landed');
      }
    }
  });
  return {
    add: (rule) => rules.push({ ...rule, left: rule.times ?? 1 }),
    hits,
    clear: () => void rules.splice(0),
  };
}
