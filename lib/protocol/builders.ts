/**
 * One builder per message type, so a transcript reads like the protocol:
 * `[start({ id, knownEntries: 1 }), pollInput(arg)]` in, `[output(res), end()]` out.
 * Byte arguments accept strings, taken as UTF-8.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { EmptySchema } from '@bufbuild/protobuf/wkt';
import { CombinatorEntryMessageSchema, FailureWithTerminalSchema, SideEffectEntryMessageSchema } from '../../gen/dev/restate/sdk/javascript_pb.js';
import {
  AwakeableEntryMessageSchema,
  BackgroundInvokeEntryMessageSchema,
  ClearAllStateEntryMessageSchema,
  ClearStateEntryMessageSchema,
  CompleteAwakeableEntryMessageSchema,
  CompletionMessageSchema,
  EndMessageSchema,
  EntryAckMessageSchema,
  ErrorMessageSchema,
  FailureSchema,
  GetStateEntryMessageSchema,
  GetStateKeysEntryMessageSchema,
  InvokeEntryMessageSchema,
  OutputStreamEntryMessageSchema,
  PollInputStreamEntryMessageSchema,
  SetStateEntryMessageSchema,
  SleepEntryMessageSchema,
  StartMessage_StateEntrySchema,
  StartMessageSchema,
  SuspensionMessageSchema,
} from '../../gen/dev/restate/service/protocol_pb.js';
import { Flags, MessageType, startMessageFlags, PROTOCOL_VERSION } from './framing.js';
import { completeEntry, type CustomMessage, type EntryResult, type KnownMessage } from './messages.js';

/** Bytes, or a string taken as UTF-8. */
export type BytesLike = Uint8Array | string;

const utf8 = new TextEncoder();

/** UTF-8 bytes of a string; a Uint8Array is returned as is. */
export function bytes(b: BytesLike): Uint8Array {
  return typeof b === 'string' ? utf8.encode(b) : b;
}

function maybeComplete<M extends KnownMessage>(msg: M, result: EntryResult | undefined): M {
  return result === undefined ? msg : completeEntry(msg, result);
}

/** A value result. */
export function valueResult(value: BytesLike): EntryResult {
  return { kind: 'value', value: bytes(value) };
}

/** A failure result. */
export function failureResult(code: number, message: string): EntryResult {
  return { kind: 'failure', code, message };
}

/** The empty result (absent state, elapsed sleep). */
export const emptyResult: EntryResult = { kind: 'empty' };

// --- Control messages

export interface StartOptions {
  id: BytesLike;
  debugId?: string;
  knownEntries: number;
  /** State entries; a Record's keys are taken as UTF-8. */
  state?: Iterable<readonly [BytesLike, BytesLike]> | Record<string, BytesLike>;
  partialState?: boolean;
  /** Protocol version in the header; 1 unless a test wants another. */
  protocolVersion?: number;
}

/** StartMessage (0x0000) with PV = 1 in its header. */
export function start(opts: StartOptions): KnownMessage<typeof MessageType.Start> {
  const state = opts.state ?? [];
  const pairs: Iterable<readonly [BytesLike, BytesLike]> =
    Symbol.iterator in state ? (state as Iterable<readonly [BytesLike, BytesLike]>) : Object.entries(state);
  return {
    type: MessageType.Start,
    flags: startMessageFlags(opts.protocolVersion ?? PROTOCOL_VERSION),
    message: create(StartMessageSchema, {
      id: bytes(opts.id),
      debugId: opts.debugId ?? '',
      knownEntries: opts.knownEntries,
      stateMap: [...pairs].map(([key, value]) => create(StartMessage_StateEntrySchema, { key: bytes(key), value: bytes(value) })),
      partialState: opts.partialState ?? false,
    }),
  };
}

/** CompletionMessage (0x0001), bidi mode only. */
export function completion(entryIndex: number, result: EntryResult): KnownMessage<typeof MessageType.Completion> {
  const message = create(CompletionMessageSchema, { entryIndex });
  switch (result.kind) {
    case 'value':
      message.result = { case: 'value', value: result.value };
      break;
    case 'empty':
      message.result = { case: 'empty', value: create(EmptySchema) };
      break;
    case 'failure':
      message.result = { case: 'failure', value: create(FailureSchema, { code: result.code, message: result.message }) };
      break;
  }
  return { type: MessageType.Completion, flags: 0, message };
}

/** SuspensionMessage (0x0002). */
export function suspension(entryIndexes: readonly number[]): KnownMessage<typeof MessageType.Suspension> {
  return { type: MessageType.Suspension, flags: 0, message: create(SuspensionMessageSchema, { entryIndexes: [...entryIndexes] }) };
}

/** ErrorMessage (0x0003). */
export function error(code: number, message: string, description = ''): KnownMessage<typeof MessageType.Error> {
  return { type: MessageType.Error, flags: 0, message: create(ErrorMessageSchema, { code, message, description }) };
}

/** EntryAckMessage (0x0004), bidi mode only. */
export function entryAck(entryIndex: number): KnownMessage<typeof MessageType.EntryAck> {
  return { type: MessageType.EntryAck, flags: 0, message: create(EntryAckMessageSchema, { entryIndex }) };
}

/** EndMessage (0x0005). */
export function end(): KnownMessage<typeof MessageType.End> {
  return { type: MessageType.End, flags: 0, message: create(EndMessageSchema) };
}

// --- Journal entries

/** PollInputStreamEntry (0x0400), completed with the invocation argument. */
export function pollInput(value: BytesLike): KnownMessage<typeof MessageType.PollInputStream> {
  return completeEntry({ type: MessageType.PollInputStream, flags: 0, message: create(PollInputStreamEntryMessageSchema) }, valueResult(value));
}

/** OutputStreamEntry (0x0401) with a success value. */
export function output(value: BytesLike): KnownMessage<typeof MessageType.OutputStream> {
  return {
    type: MessageType.OutputStream,
    flags: 0,
    message: create(OutputStreamEntryMessageSchema, { result: { case: 'value', value: bytes(value) } }),
  };
}

/** OutputStreamEntry (0x0401) with a terminal failure. */
export function outputFailure(code: number, message: string): KnownMessage<typeof MessageType.OutputStream> {
  return {
    type: MessageType.OutputStream,
    flags: 0,
    message: create(OutputStreamEntryMessageSchema, {
      result: { case: 'failure', value: create(FailureSchema, { code, message }) },
    }),
  };
}

/** GetStateEntry (0x0800); completed when `result` is given. */
export function getState(key: BytesLike, result?: EntryResult): KnownMessage<typeof MessageType.GetState> {
  return maybeComplete({ type: MessageType.GetState, flags: 0, message: create(GetStateEntryMessageSchema, { key: bytes(key) }) }, result);
}

/** SetStateEntry (0x0801). */
export function setState(key: BytesLike, value: BytesLike): KnownMessage<typeof MessageType.SetState> {
  return {
    type: MessageType.SetState,
    flags: 0,
    message: create(SetStateEntryMessageSchema, { key: bytes(key), value: bytes(value) }),
  };
}

/** ClearStateEntry (0x0802). */
export function clearState(key: BytesLike): KnownMessage<typeof MessageType.ClearState> {
  return { type: MessageType.ClearState, flags: 0, message: create(ClearStateEntryMessageSchema, { key: bytes(key) }) };
}

/** ClearAllStateEntry (0x0803). */
export function clearAllState(): KnownMessage<typeof MessageType.ClearAllState> {
  return { type: MessageType.ClearAllState, flags: 0, message: create(ClearAllStateEntryMessageSchema) };
}

/** GetStateKeysEntry (0x0804); completed when `result` is given (see `stateKeysResult`). */
export function getStateKeys(result?: EntryResult): KnownMessage<typeof MessageType.GetStateKeys> {
  return maybeComplete({ type: MessageType.GetStateKeys, flags: 0, message: create(GetStateKeysEntryMessageSchema) }, result);
}

/** SleepEntry (0x0C00) waking at `wakeUpTime` ms since the epoch; completed when `result` is given. */
export function sleep(wakeUpTime: number | bigint, result?: EntryResult): KnownMessage<typeof MessageType.Sleep> {
  return maybeComplete({ type: MessageType.Sleep, flags: 0, message: create(SleepEntryMessageSchema, { wakeUpTime: BigInt(wakeUpTime) }) }, result);
}

/** InvokeEntry (0x0C01); completed when `result` is given. */
export function invoke(serviceName: string, methodName: string, parameter: BytesLike, result?: EntryResult): KnownMessage<typeof MessageType.Invoke> {
  return maybeComplete(
    {
      type: MessageType.Invoke,
      flags: 0,
      message: create(InvokeEntryMessageSchema, { serviceName, methodName, parameter: bytes(parameter) }),
    },
    result,
  );
}

/** BackgroundInvokeEntry (0x0C02); `invokeTime` in ms since the epoch, 0 = now. */
export function backgroundInvoke(
  serviceName: string,
  methodName: string,
  parameter: BytesLike,
  invokeTime: number | bigint = 0,
): KnownMessage<typeof MessageType.BackgroundInvoke> {
  return {
    type: MessageType.BackgroundInvoke,
    flags: 0,
    message: create(BackgroundInvokeEntryMessageSchema, {
      serviceName,
      methodName,
      parameter: bytes(parameter),
      invokeTime: BigInt(invokeTime),
    }),
  };
}

/** AwakeableEntry (0x0C03); completed when `result` is given. */
export function awakeable(result?: EntryResult): KnownMessage<typeof MessageType.Awakeable> {
  return maybeComplete({ type: MessageType.Awakeable, flags: 0, message: create(AwakeableEntryMessageSchema) }, result);
}

/** CompleteAwakeableEntry (0x0C04) with a value or a failure. */
export function completeAwakeable(id: string, result: Exclude<EntryResult, { kind: 'empty' }>): KnownMessage<typeof MessageType.CompleteAwakeable> {
  const message = create(CompleteAwakeableEntryMessageSchema, { id });
  message.result =
    result.kind === 'value'
      ? { case: 'value', value: result.value }
      : { case: 'failure', value: create(FailureSchema, { code: result.code, message: result.message }) };
  return { type: MessageType.CompleteAwakeable, flags: 0, message };
}

// --- Custom entries of the TypeScript SDK (opaque to the runtime)

export interface CustomOptions {
  /** Sets REQUIRES_ACK, as the SDK does when it writes the entry (replays clear it). */
  requiresAck?: boolean;
}

/** Any custom entry (type >= 0xFC00) with an opaque body. */
export function custom(type: number, raw: BytesLike, flags = 0): CustomMessage {
  return { type, flags, raw: bytes(raw) };
}

/** SideEffect custom entry (0xFC01) holding a value or a failure (terminal unless said otherwise). */
export function sideEffect(
  result: { value: BytesLike } | { failure: { code: number; message: string; terminal?: boolean } },
  opts: CustomOptions = {},
): CustomMessage {
  const message = create(SideEffectEntryMessageSchema);
  if ('value' in result) {
    message.result = { case: 'value', value: bytes(result.value) };
  } else {
    const { code, message: text, terminal = true } = result.failure;
    message.result = {
      case: 'failure',
      value: create(FailureWithTerminalSchema, { failure: create(FailureSchema, { code, message: text }), terminal }),
    };
  }
  return custom(MessageType.SideEffect, toBinary(SideEffectEntryMessageSchema, message), opts.requiresAck ? Flags.RequiresAck : 0);
}

/** Combinator custom entry (0xFC02). */
export function combinator(combinatorId: number, journalEntriesOrder: readonly number[], opts: CustomOptions = {}): CustomMessage {
  const body = toBinary(CombinatorEntryMessageSchema, create(CombinatorEntryMessageSchema, { combinatorId, journalEntriesOrder: [...journalEntriesOrder] }));
  return custom(MessageType.Combinator, body, opts.requiresAck ? Flags.RequiresAck : 0);
}
