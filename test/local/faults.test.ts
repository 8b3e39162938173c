/**
 * The runner's fault injection (RESTLESS_FAULTS) against DynamoDB Local: each fault does what
 * its name says (a write refused before it is sent changes nothing, a lost answer's write did
 * land), deliveries are dropped or doubled, everything is logged, and stop() ends it all.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { installFaults, parseFaultSpec, type FaultSpec } from '../../lib/local/faults.js';
import { createLogger } from '../../lib/log.js';
import type { TimerEvent } from '../../lib/timers/timer-event.js';
import { createTableClients } from '../../lib/store/table.js';
import { freshTable, localDynamoConfig } from '../support/ddb.js';

function spec(overrides: { dynamo?: Partial<FaultSpec['dynamo']>; timers?: Partial<FaultSpec['timers']>; kicks?: Partial<FaultSpec['kicks']> }): FaultSpec {
  const base = parseFaultSpec('{"seed":1}');
  return {
    ...base,
    dynamo: { ...base.dynamo, ...overrides.dynamo },
    timers: { ...base.timers, ...overrides.timers },
    kicks: { ...base.kicks, ...overrides.kicks },
  };
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger({ level: 'debug', sink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }) };
}

const put = (id: string) => ({ pk: `x#${id}`, sk: 'meta', v: 1 });

describe('fault injection (lib/local/faults.ts)', () => {
  it.each([
    ['not JSON', '{', /not JSON/],
    ['an unknown field', '{"seed":1,"dynamo":{"failBefor":0.1}}', /unknown field\(s\) failBefor/],
    ['a probability above 1', '{"seed":1,"timers":{"drop":2}}', /timers.drop must be a number in \[0, 1\]/],
    ['no seed', '{}', /seed must be a number/],
  ])('refuses a spec with %s', (_case, raw, message) => {
    expect(() => parseFaultSpec(raw)).toThrow(message);
  });

  it('fails a write before it is sent: nothing is stored', async () => {
    // Prepare
    const tables = await freshTable('faults');
    const { lines, log } = capture();
    installFaults({ tables }, spec({ dynamo: { failBefore: 1 } }), log);

    // Act
    const write = tables.doc.send(new PutCommand({ TableName: tables.tableName, Item: put('a') }));

    // Assess
    await expect(write).rejects.toThrow(/before the write was sent/);
    const faultless = faultlessClient(tables.tableName);
    expect((await faultless.doc.send(new GetCommand({ TableName: tables.tableName, Key: { pk: 'x#a', sk: 'meta' } }))).Item).toBeUndefined();
    expect(lines.filter((l) => l.msg === 'fault injected').map((l) => l.fault)).toEqual(['ddb.fail-before']);
  });

  it('loses the answer of a write that landed', async () => {
    // Prepare
    const tables = await freshTable('faults');
    const { log } = capture();
    installFaults({ tables }, spec({ dynamo: { lostAnswer: 1 } }), log);

    // Act
    const write = tables.doc.send(new PutCommand({ TableName: tables.tableName, Item: put('b') }));

    // Assess
    await expect(write).rejects.toThrow(/landed but its answer was lost/);
    const faultless = faultlessClient(tables.tableName);
    expect((await faultless.doc.send(new GetCommand({ TableName: tables.tableName, Key: { pk: 'x#b', sk: 'meta' } }))).Item).toMatchObject({ v: 1 });
  });

  it('refuses a transaction with a TransactionConflict reason, as DynamoDB does', async () => {
    // Prepare
    const tables = await freshTable('faults');
    const { log } = capture();
    installFaults({ tables }, spec({ dynamo: { conflict: 1 } }), log);

    // Act
    const err = await tables.doc
      .send(
        new TransactWriteCommand({
          TransactItems: [{ Put: { TableName: tables.tableName, Item: put('c') } }, { Put: { TableName: tables.tableName, Item: put('d') } }],
        }),
      )
      .catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(TransactionCanceledException);
    const codes = (err as TransactionCanceledException).CancellationReasons?.map((r) => r.Code);
    expect(codes?.filter((c) => c === 'TransactionConflict')).toHaveLength(1);
    expect(codes?.filter((c) => c === 'None')).toHaveLength(1);
  });

  it('drops kicks and doubles timers, and delivers everything once stopped', async () => {
    // Prepare
    const tables = await freshTable('faults');
    const { lines, log } = capture();
    const delivered: TimerEvent[] = [];
    const timers = { fire: async (e: TimerEvent) => void delivered.push(e) };
    const faults = installFaults({ tables, localTimers: timers }, spec({ kicks: { drop: 1 }, timers: { double: 1 } }), log);
    const kick: TimerEvent = { kind: 'kick', invocationId: 'inv_1' };
    const timer: TimerEvent = { kind: 'timer', invocationId: 'inv_2', epoch: 1, reason: 'sleep', dueMs: 0 };

    // Act
    await timers.fire(kick);
    await timers.fire(timer);
    await new Promise((r) => setTimeout(r, 100));
    faults.stop('test');
    await timers.fire(kick);

    // Assess
    expect(delivered).toEqual([timer, timer, kick]);
    expect(faults.counts()).toEqual({ 'kick.drop': 1, 'timer.double': 1 });
    expect(lines.at(-1)).toMatchObject({ msg: 'faults off', reason: 'test' });
  });
});

/** A client without faults on the same table, to see what really landed. */
function faultlessClient(tableName: string) {
  return createTableClients(tableName, localDynamoConfig());
}
