import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../lib/errors.js';
import * as build from '../../lib/protocol/builders.js';
import { Flags, MessageType } from '../../lib/protocol/framing.js';
import {
  completeEntry,
  completionResult,
  decodeCombinator,
  decodeFrames,
  decodeSideEffect,
  encodeMessage,
  encodeMessages,
  entryResultOf,
  isCompletableType,
  isCustom,
  isEntryType,
  isMessage,
  messageTypeName,
  stateKeysResult,
  type EntryResult,
  type ProtocolMessage,
} from '../../lib/protocol/messages.js';
import { hex, unhex } from './helpers.js';

const { failureResult, valueResult, emptyResult } = build;

/**
 * One row per builder: the message, and the exact frame it must encode to (header | body).
 * Bodies are written out field by field (tag, length, bytes) from the field numbers in proto/dev/restate/service/protocol.proto.
 */
const TRANSCRIPT: { $case: string; msg: ProtocolMessage; frame: string }[] = [
  {
    $case: 'StartMessage',
    msg: build.start({ id: 'abc', debugId: 'inv', knownEntries: 2, state: [['k', 'v']], partialState: true }),
    frame: '0000 0001 00000016 | 0a03616263 1203696e76 1802 2206(0a016b 120176) 2801',
  },
  {
    $case: 'StartMessage with state as a record',
    msg: build.start({ id: 'a', knownEntries: 1, state: { k: '' } }),
    frame: '0000 0001 0000000a | 0a0161 1801 2203(0a016b)',
  },
  { $case: 'CompletionMessage value', msg: build.completion(3, valueResult('x')), frame: '0001 0000 00000005 | 0803 720178' },
  { $case: 'CompletionMessage empty', msg: build.completion(3, emptyResult), frame: '0001 0000 00000004 | 0803 6a00' },
  { $case: 'CompletionMessage failure', msg: build.completion(3, failureResult(5, 'nf')), frame: '0001 0000 0000000a | 0803 7a06(0805 12026e66)' },
  { $case: 'SuspensionMessage', msg: build.suspension([1, 2]), frame: '0002 0000 00000004 | 0a020102' },
  { $case: 'ErrorMessage', msg: build.error(13, 'boom'), frame: '0003 0000 00000008 | 080d 1204626f6f6d' },
  { $case: 'ErrorMessage with description', msg: build.error(32, 'x', 'y'), frame: '0003 0000 00000008 | 0820 120178 1a0179' },
  { $case: 'EntryAckMessage', msg: build.entryAck(4), frame: '0004 0000 00000002 | 0804' },
  { $case: 'EndMessage', msg: build.end(), frame: '0005 0000 00000000 |' },
  { $case: 'PollInputStream', msg: build.pollInput('in'), frame: '0400 0001 00000004 | 7202696e' },
  { $case: 'OutputStream value', msg: build.output('out'), frame: '0401 0000 00000005 | 72036f7574' },
  { $case: 'OutputStream failure', msg: build.outputFailure(9, 'nope'), frame: '0401 0000 0000000a | 7a08(0809 12046e6f7065)' },
  { $case: 'GetState', msg: build.getState('count'), frame: '0800 0000 00000007 | 0a05636f756e74' },
  { $case: 'GetState completed with value', msg: build.getState('count', valueResult('41')), frame: '0800 0001 0000000b | 0a05636f756e74 72023431' },
  { $case: 'GetState completed empty', msg: build.getState('count', emptyResult), frame: '0800 0001 00000009 | 0a05636f756e74 6a00' },
  { $case: 'SetState', msg: build.setState('count', '42'), frame: '0801 0000 0000000b | 0a05636f756e74 1a023432' },
  { $case: 'ClearState', msg: build.clearState('count'), frame: '0802 0000 00000007 | 0a05636f756e74' },
  { $case: 'ClearAllState', msg: build.clearAllState(), frame: '0803 0000 00000000 |' },
  { $case: 'GetStateKeys', msg: build.getStateKeys(), frame: '0804 0000 00000000 |' },
  {
    $case: 'GetStateKeys completed',
    msg: build.getStateKeys(stateKeysResult([unhex('61'), unhex('62')])),
    frame: '0804 0001 00000008 | 7206(0a0161 0a0162)',
  },
  { $case: 'Sleep', msg: build.sleep(1000), frame: '0c00 0000 00000003 | 08e807' },
  { $case: 'Sleep completed', msg: build.sleep(1000, emptyResult), frame: '0c00 0001 00000005 | 08e807 6a00' },
  { $case: 'Invoke', msg: build.invoke('svc', 'm', 'p'), frame: '0c01 0000 0000000b | 0a03737663 12016d 1a0170' },
  {
    $case: 'Invoke completed with failure',
    msg: build.invoke('svc', 'm', 'p', failureResult(14, 'x')),
    frame: '0c01 0001 00000012 | 0a03737663 12016d 1a0170 7a05(080e 120178)',
  },
  { $case: 'BackgroundInvoke', msg: build.backgroundInvoke('svc', 'm', 'p', 5000), frame: '0c02 0000 0000000e | 0a03737663 12016d 1a0170 208827' },
  { $case: 'Awakeable', msg: build.awakeable(), frame: '0c03 0000 00000000 |' },
  { $case: 'Awakeable completed', msg: build.awakeable(valueResult('v')), frame: '0c03 0001 00000003 | 720176' },
  {
    $case: 'CompleteAwakeable value',
    msg: build.completeAwakeable('prom_1x', { kind: 'value', value: unhex('76') }),
    frame: '0c04 0000 0000000c | 0a0770726f6d5f3178 2a0176',
  },
  {
    $case: 'CompleteAwakeable failure',
    msg: build.completeAwakeable('id', { kind: 'failure', code: 2, message: 'r' }),
    frame: '0c04 0000 0000000b | 0a026964 3205(0802 120172)',
  },
  { $case: 'SideEffect value with ack', msg: build.sideEffect({ value: '7' }, { requiresAck: true }), frame: 'fc01 8000 00000003 | 720137' },
  {
    $case: 'SideEffect terminal failure',
    msg: build.sideEffect({ failure: { code: 13, message: 'x' } }),
    frame: 'fc01 0000 0000000b | 7a09(0a05(080d 120178) 1001)',
  },
  { $case: 'Combinator with ack', msg: build.combinator(1, [2, 1], { requiresAck: true }), frame: 'fc02 8000 00000006 | 0801 12020201' },
];

function frameHex(text: string): string {
  return text.replaceAll(/[\s|()]/g, '');
}

describe('message builders', () => {
  it.each(TRANSCRIPT)('encodes $$case to exactly the expected frame', ({ msg, frame }) => {
    expect(hex(encodeMessage(msg))).toBe(frameHex(frame));
  });

  it.each(TRANSCRIPT)('decodes the frame of $$case back to the message', ({ msg, frame }) => {
    expect(decodeFrames(unhex(frameHex(frame)))).toEqual([msg]);
  });

  it('decodes a transcript of several frames in order', () => {
    const msgs = TRANSCRIPT.map((row) => row.msg);
    expect(decodeFrames(encodeMessages(msgs))).toEqual(msgs);
  });

  it('reads the custom entries of the SDK back', () => {
    const effect = build.sideEffect({ failure: { code: 9, message: 'no', terminal: false } });
    const comb = build.combinator(4, [3, 2]);
    expect(decodeSideEffect(effect.raw).result).toMatchObject({ case: 'failure', value: { failure: { code: 9, message: 'no' }, terminal: false } });
    expect(decodeCombinator(comb.raw)).toMatchObject({ combinatorId: 4, journalEntriesOrder: [3, 2] });
  });
});

describe('message kinds', () => {
  it('knows which entry types are completable', () => {
    const completable = Object.values(MessageType).filter(isCompletableType);
    expect(completable.map(messageTypeName)).toEqual([
      'PollInputStreamEntryMessage',
      'GetStateEntryMessage',
      'GetStateKeysEntryMessage',
      'SleepEntryMessage',
      'InvokeEntryMessage',
      'AwakeableEntryMessage',
    ]);
  });

  it('tells entries from control messages', () => {
    expect(isEntryType(MessageType.End)).toBe(false);
    expect(isEntryType(MessageType.PollInputStream)).toBe(true);
    expect(isEntryType(MessageType.SideEffect)).toBe(true);
  });

  it('narrows with isCustom and isMessage', () => {
    const msgs: ProtocolMessage[] = [build.getState('k'), build.sideEffect({ value: '1' })];
    expect(msgs.map(isCustom)).toEqual([false, true]);
    const [get] = msgs;
    if (get === undefined || !isMessage(get, MessageType.GetState)) throw new Error('expected a GetState entry');
    expect(new TextDecoder().decode(get.message.key)).toBe('k');
    expect(isMessage(get, MessageType.SetState)).toBe(false);
  });

  it('names unknown types by number', () => {
    expect(messageTypeName(0x0006)).toBe('0x0006');
    expect(messageTypeName(MessageType.Combinator)).toBe('CombinatorEntryMessage');
  });
});

describe('completeEntry', () => {
  const value: EntryResult = valueResult('r');
  const failure: EntryResult = failureResult(1, 'canceled');

  it.each([
    { $case: 'PollInputStream with a value', entry: build.pollInput(''), result: value },
    { $case: 'GetState with a value', entry: build.getState('k'), result: value },
    { $case: 'GetState with empty', entry: build.getState('k'), result: emptyResult },
    { $case: 'GetState with a failure', entry: build.getState('k'), result: failure },
    { $case: 'GetStateKeys with keys', entry: build.getStateKeys(), result: stateKeysResult([unhex('6b31')]) },
    { $case: 'GetStateKeys with a failure', entry: build.getStateKeys(), result: failure },
    { $case: 'Sleep with empty', entry: build.sleep(5), result: emptyResult },
    { $case: 'Sleep with a failure', entry: build.sleep(5), result: failure },
    { $case: 'Invoke with a value', entry: build.invoke('s', 'm', ''), result: value },
    { $case: 'Invoke with a failure', entry: build.invoke('s', 'm', ''), result: failure },
    { $case: 'Awakeable with a value', entry: build.awakeable(), result: value },
    { $case: 'Awakeable with a failure', entry: build.awakeable(), result: failure },
  ])('folds the result into $$case and sets COMPLETED', ({ entry, result }) => {
    // Prepare
    const before = hex(encodeMessage(entry));

    // Act
    const completed = completeEntry(entry, result);

    // Assess: the result reads back, the flag is set, the original is untouched.
    expect(completed.flags & Flags.Completed).toBe(Flags.Completed);
    expect(entryResultOf(completed)).toEqual(result);
    expect(decodeFrames(encodeMessage(completed))).toEqual([completed]);
    expect(hex(encodeMessage(entry))).toBe(before);
  });

  it('keeps the other flags and fields of the entry', () => {
    const entry = { ...build.invoke('svc', 'Method', 'arg'), flags: Flags.RequiresAck };
    const completed = completeEntry(entry, value);
    expect(completed.flags).toBe(Flags.RequiresAck | Flags.Completed);
    expect(completed.message).toMatchObject({ serviceName: 'svc', methodName: 'Method', parameter: unhex('617267') });
  });

  it('replaces a result that was already there', () => {
    const entry = build.getState('k', emptyResult);
    expect(entryResultOf(completeEntry(entry, value))).toEqual(value);
  });

  it.each([
    { $case: 'Sleep with a value', entry: build.sleep(1), result: value },
    { $case: 'Invoke with empty', entry: build.invoke('s', 'm', ''), result: emptyResult },
    { $case: 'Awakeable with empty', entry: build.awakeable(), result: emptyResult },
    { $case: 'PollInputStream with empty', entry: build.pollInput(''), result: emptyResult },
  ])('refuses $$case with ProtocolError', ({ entry, result }) => {
    expect(() => completeEntry(entry as ProtocolMessage, result)).toThrow(ProtocolError);
  });

  it.each([
    { $case: 'SetState', entry: build.setState('k', 'v') },
    { $case: 'OutputStream', entry: build.output('') },
    { $case: 'a custom entry', entry: build.sideEffect({ value: '' }) },
    { $case: 'End', entry: build.end() },
  ])('refuses $$case, which is not completable', ({ entry }) => {
    expect(() => completeEntry(entry as ProtocolMessage, value)).toThrow(/is not a completable entry/);
  });

  it('refuses GetStateKeys bytes that are not a StateKeys message', () => {
    expect(() => completeEntry(build.getStateKeys(), valueResult(unhex('0a05')))).toThrow(ProtocolError);
  });

  it('reads no result from an entry without one', () => {
    expect(entryResultOf(build.getState('k'))).toBeUndefined();
    expect(entryResultOf(build.getStateKeys())).toBeUndefined();
    expect(entryResultOf(build.setState('k', 'v'))).toBeUndefined();
  });
});

describe('completionResult', () => {
  it.each([
    { $case: 'value', result: valueResult('v') },
    { $case: 'empty', result: emptyResult },
    { $case: 'failure', result: failureResult(13, 'x') },
  ])('reads the $$case of a CompletionMessage', ({ result }) => {
    expect(completionResult(build.completion(7, result).message)).toEqual(result);
  });

  it('refuses a CompletionMessage without a result', () => {
    const [msg] = decodeFrames(unhex('0001 0000 00000002 0807'));
    if (msg === undefined || !isMessage(msg, MessageType.Completion)) throw new Error('expected a CompletionMessage');
    expect(() => completionResult(msg.message)).toThrow(ProtocolError);
  });
});

describe('codec properties', () => {
  const bytesArb = fc.uint8Array({ maxLength: 24 });
  const textArb = fc.string({ maxLength: 12 });
  const u32 = fc.nat({ max: 0xffff_ffff });
  const resultArb: fc.Arbitrary<EntryResult> = fc.oneof(
    bytesArb.map((value) => ({ kind: 'value' as const, value })),
    fc.constant(emptyResult),
    fc.record({ kind: fc.constant('failure' as const), code: u32, message: textArb }),
  );
  const valueOrFailure = resultArb.filter((r) => r.kind !== 'empty') as fc.Arbitrary<Exclude<EntryResult, { kind: 'empty' }>>;
  const noEmpty = (r: EntryResult) => (r.kind === 'empty' ? failureResult(2, '') : r);
  const noValue = (r: EntryResult) => (r.kind === 'value' ? emptyResult : r);
  const keysArb = fc.array(bytesArb, { maxLength: 3 }).map(stateKeysResult);
  const time = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

  const messageArb: fc.Arbitrary<ProtocolMessage> = fc.oneof(
    fc
      .record({
        id: bytesArb,
        debugId: textArb,
        knownEntries: u32,
        state: fc.array(fc.tuple(bytesArb, bytesArb), { maxLength: 3 }),
        partialState: fc.boolean(),
        protocolVersion: fc.nat({ max: 0x3ff }),
      })
      .map(build.start),
    fc.tuple(u32, resultArb).map(([i, r]) => build.completion(i, r)),
    fc.array(u32, { maxLength: 4 }).map(build.suspension),
    fc.tuple(u32, textArb, textArb).map(([c, m, d]) => build.error(c, m, d)),
    u32.map(build.entryAck),
    fc.constant(build.end()),
    bytesArb.map(build.pollInput),
    bytesArb.map(build.output),
    fc.tuple(u32, textArb).map(([c, m]) => build.outputFailure(c, m)),
    fc.tuple(bytesArb, fc.option(resultArb, { nil: undefined })).map(([k, r]) => build.getState(k, r)),
    fc.tuple(bytesArb, bytesArb).map(([k, v]) => build.setState(k, v)),
    bytesArb.map(build.clearState),
    fc.constant(build.clearAllState()),
    fc
      .option(
        fc.oneof(
          keysArb,
          valueOrFailure.filter((r) => r.kind === 'failure'),
        ),
        { nil: undefined },
      )
      .map(build.getStateKeys),
    fc.tuple(time, fc.option(resultArb.map(noValue), { nil: undefined })).map(([t, r]) => build.sleep(t, r)),
    fc.tuple(textArb, textArb, bytesArb, fc.option(resultArb.map(noEmpty), { nil: undefined })).map(([s, m, p, r]) => build.invoke(s, m, p, r)),
    fc.tuple(textArb, textArb, bytesArb, time).map(([s, m, p, t]) => build.backgroundInvoke(s, m, p, t)),
    fc.option(resultArb.map(noEmpty), { nil: undefined }).map(build.awakeable),
    fc.tuple(textArb, valueOrFailure).map(([id, r]) => build.completeAwakeable(id, r)),
    fc.tuple(fc.integer({ min: 0xfc00, max: 0xffff }), bytesArb).map(([t, raw]) => build.custom(t, raw)),
  );
  const framedArb = fc.tuple(messageArb, fc.integer({ min: 0, max: 0xffff })).map(([m, flags]) => ({ ...m, flags }));

  it('decodes what it encodes: decode(encode(x)) = x', () => {
    fc.assert(
      fc.property(fc.array(framedArb, { maxLength: 8 }), (msgs) => {
        expect(decodeFrames(encodeMessages(msgs))).toEqual(msgs);
      }),
    );
  });

  it('re-encodes what it decodes byte for byte', () => {
    fc.assert(
      fc.property(framedArb, (msg) => {
        const bytes = encodeMessage(msg);
        expect(hex(encodeMessages(decodeFrames(bytes)))).toBe(hex(bytes));
      }),
    );
  });

  it('answers hostile input with messages or a ProtocolError, never another error', () => {
    const known = Object.values(MessageType);
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // Plausible headers over garbage bodies reach the protobuf decoder.
      fc
        .tuple(fc.constantFrom(...known), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 32 }))
        .map(([t, f, body]) =>
          Buffer.concat([unhex(`${t.toString(16).padStart(4, '0')}${f.toString(16).padStart(4, '0')}${body.length.toString(16).padStart(8, '0')}`), body]),
        ),
    );
    fc.assert(
      fc.property(hostile, (bytes) => {
        try {
          decodeFrames(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
    );
  });
});
