/** The timer function's boundary (SQS batches, the sweep event) and the early hand-over, with a stand-in driver. */
import { describe, expect, it, vi } from 'vitest';
import type { Driver, DriveOutcome } from '../../lib/driver/driver.js';
import { createLogger, type Logger } from '../../lib/log.js';
import type { InvocationStore } from '../../lib/store/invocation-store.js';
import type { TimerEvent } from '../../lib/timers/timer-event.js';
import { createTimerHandler, EARLY_HANDOVER_MS } from '../../lib/timers/timer-handler.js';
import { timerLambdaHandler, type SqsBatchResponse } from '../../lib/timers/timer-lambda.js';

const NOW = 1_800_000_000_000;

function record(messageId: string, body: unknown) {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {},
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:timers',
    awsRegion: 'eu-west-1',
  };
}

function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger({ level: 'debug', sink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }) };
}

describe('timerLambdaHandler', () => {
  it('handles every record of an SQS batch and reports exactly the failed and the malformed ones', async () => {
    const seen: TimerEvent[] = [];
    const core = vi.fn(async (e: TimerEvent): Promise<DriveOutcome> => {
      seen.push(e);
      if (e.kind !== 'sweep' && e.invocationId === 'inv_bad') throw new Error('table unavailable');
      return { kind: 'skipped', reason: 'finished' };
    });
    const { log, lines } = capture();
    const res = (await timerLambdaHandler(
      core,
      log,
    )({
      Records: [
        record('m1', { kind: 'kick', invocationId: 'inv_1' }),
        record('m2', { kind: 'timer', invocationId: 'inv_bad', epoch: 1, reason: 'sleep', dueMs: 1 }),
        record('m3', 'not json'),
        record('m4', { kind: 'timer', invocationId: 'inv_2', epoch: 4, reason: 'retry', dueMs: 2 }),
      ],
    })) as SqsBatchResponse;
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m2', 'm3']);
    expect(seen.map((e) => (e.kind === 'sweep' ? 'sweep' : e.invocationId)).sort()).toEqual(['inv_1', 'inv_2', 'inv_bad']);
    expect(
      lines
        .filter((l) => l['level'] === 'error')
        .map((l) => l['messageId'])
        .sort(),
    ).toEqual(['m2', 'm3']);
  });

  it('answers an empty failure list when the whole batch went through', async () => {
    const res = await timerLambdaHandler(
      async () => ({ kind: 'suspended' }),
      capture().log,
    )({ Records: [record('m1', { kind: 'kick', invocationId: 'inv_1' })] });
    expect(res).toEqual({ batchItemFailures: [] });
  });

  it('handles the records of a batch at once, not one after another', async () => {
    let running = 0;
    let most = 0;
    const core = async (): Promise<DriveOutcome> => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
      return { kind: 'suspended' };
    };
    await timerLambdaHandler(
      core,
      capture().log,
    )({ Records: Array.from({ length: 5 }, (_, i) => record(`m${i}`, { kind: 'kick', invocationId: `inv_${i}` })) });
    expect(most).toBe(5);
  });

  it('passes the bare sweep event of the EventBridge rule to the core', async () => {
    const core = vi.fn(async (): Promise<DriveOutcome> => ({ kind: 'skipped', reason: 'x' }));
    await timerLambdaHandler(core, capture().log)({ kind: 'sweep' });
    expect(core).toHaveBeenCalledWith({ kind: 'sweep' });
  });

  it('drops a malformed bare event with an error line instead of throwing (it would be retried for nothing)', async () => {
    const { log, lines } = capture();
    const core = vi.fn();
    expect(await timerLambdaHandler(core, log)({ hello: 'world' })).toEqual({ kind: 'ignored', reason: 'malformed event' });
    expect(core).not.toHaveBeenCalled();
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'ignoring a malformed timer event' }));
  });
});

describe('createTimerHandler', () => {
  const make = (log: Logger) => {
    const driveById = vi.fn(async (): Promise<DriveOutcome> => ({ kind: 'suspended' }));
    const rearm = vi.fn(async () => undefined);
    const handler = createTimerHandler({ driver: { driveById } as unknown as Driver, store: {} as InvocationStore, log, now: () => NOW, rearm });
    return { handler, driveById, rearm };
  };

  it('hands a timer that came well before its due time back to the kicker instead of driving it', async () => {
    const { handler, driveById, rearm } = make(capture().log);
    const due = NOW + 75_000;
    expect(await handler({ kind: 'timer', invocationId: 'inv_a', epoch: 2, reason: 'sleep', dueMs: due })).toMatchObject({ kind: 'ignored' });
    expect(rearm).toHaveBeenCalledWith('inv_a', due, { epoch: 2, kind: 'sleep' });
    expect(driveById).not.toHaveBeenCalled();
  });

  it.each([
    { case: 'a little early (the driver waits that out)', dueMs: NOW + EARLY_HANDOVER_MS },
    { case: 'on time', dueMs: NOW },
    { case: 'late', dueMs: NOW - 30_000 },
  ])('drives a timer that is $case', async ({ dueMs }) => {
    const { handler, driveById, rearm } = make(capture().log);
    await handler({ kind: 'timer', invocationId: 'inv_a', epoch: 2, reason: 'retry', dueMs });
    expect(driveById).toHaveBeenCalledWith('inv_a');
    expect(rearm).not.toHaveBeenCalled();
  });

  it('logs how late a wake-up ran (the TimerLag metric)', async () => {
    const { log, lines } = capture();
    const { handler } = make(log);
    await handler({ kind: 'timer', invocationId: 'inv_a', epoch: 2, reason: 'sleep', dueMs: NOW - 1_250 });
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'timer delivered', lagMs: 1_250, reason: 'sleep', 'restate.invocation.id': 'inv_a', outcome: 'suspended' }),
    );
  });

  it('never re-arms a kick, however it arrives', async () => {
    const { handler, driveById, rearm } = make(capture().log);
    await handler({ kind: 'kick', invocationId: 'inv_a' });
    expect(driveById).toHaveBeenCalledWith('inv_a');
    expect(rearm).not.toHaveBeenCalled();
  });
});
