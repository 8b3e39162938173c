/**
 * Typed protocol messages: a frame's type picks the protobuf-es schema of its body. Custom
 * entries of an SDK (type >= 0xFC00) stay opaque bytes, because the runtime only stores and
 * replays them.
 */
import { clone, create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import type { GenMessage } from '@bufbuild/protobuf/codegenv2';
import { EmptySchema, type Empty } from '@bufbuild/protobuf/wkt';
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
  GetStateKeysEntryMessage_StateKeysSchema,
  GetStateKeysEntryMessageSchema,
  InvokeEntryMessageSchema,
  OutputStreamEntryMessageSchema,
  PollInputStreamEntryMessageSchema,
  SetStateEntryMessageSchema,
  SleepEntryMessageSchema,
  StartMessageSchema,
  SuspensionMessageSchema,
  type AwakeableEntryMessage,
  type BackgroundInvokeEntryMessage,
  type ClearAllStateEntryMessage,
  type ClearStateEntryMessage,
  type CompleteAwakeableEntryMessage,
  type CompletionMessage,
  type EndMessage,
  type EntryAckMessage,
  type ErrorMessage,
  type Failure,
  type GetStateEntryMessage,
  type GetStateKeysEntryMessage,
  type InvokeEntryMessage,
  type OutputStreamEntryMessage,
  type PollInputStreamEntryMessage,
  type SetStateEntryMessage,
  type SleepEntryMessage,
  type StartMessage,
  type SuspensionMessage,
} from '../../gen/dev/restate/service/protocol_pb.js';
import {
  CombinatorEntryMessageSchema,
  SideEffectEntryMessageSchema,
  type CombinatorEntryMessage,
  type SideEffectEntryMessage,
} from '../../gen/dev/restate/sdk/javascript_pb.js';
import { ProtocolError } from '../errors.js';
import { encodeFrame, isCustomType, MessageType, Flags, splitFrames, concatBytes, type Frame } from './framing.js';

/** Body type of every message type the runtime understands. */
export interface KnownMessages {
  [MessageType.Start]: StartMessage;
  [MessageType.Completion]: CompletionMessage;
  [MessageType.Suspension]: SuspensionMessage;
  [MessageType.Error]: ErrorMessage;
  [MessageType.EntryAck]: EntryAckMessage;
  [MessageType.End]: EndMessage;
  [MessageType.PollInputStream]: PollInputStreamEntryMessage;
  [MessageType.OutputStream]: OutputStreamEntryMessage;
  [MessageType.GetState]: GetStateEntryMessage;
  [MessageType.SetState]: SetStateEntryMessage;
  [MessageType.ClearState]: ClearStateEntryMessage;
  [MessageType.ClearAllState]: ClearAllStateEntryMessage;
  [MessageType.GetStateKeys]: GetStateKeysEntryMessage;
  [MessageType.Sleep]: SleepEntryMessage;
  [MessageType.Invoke]: InvokeEntryMessage;
  [MessageType.BackgroundInvoke]: BackgroundInvokeEntryMessage;
  [MessageType.Awakeable]: AwakeableEntryMessage;
  [MessageType.CompleteAwakeable]: CompleteAwakeableEntryMessage;
}

export type KnownMessageType = keyof KnownMessages;

/** A message with a decoded body; `type` discriminates `message`. */
export type KnownMessage<T extends KnownMessageType = KnownMessageType> = {
  [K in T]: { type: K; flags: number; message: KnownMessages[K] };
}[T];

/** A custom entry (type >= 0xFC00), body kept as opaque bytes. */
export interface CustomMessage {
  type: number;
  flags: number;
  raw: Uint8Array;
}

/**
 * Any protocol message. Tell the two shapes apart with `isCustom` (or `'raw' in msg`); after
 * that, `msg.type` narrows `msg.message` as usual. `isMessage(msg, type)` does both at once.
 */
export type ProtocolMessage = KnownMessage | CustomMessage;

const SCHEMAS: { readonly [T in KnownMessageType]: GenMessage<KnownMessages[T]> } = {
  [MessageType.Start]: StartMessageSchema,
  [MessageType.Completion]: CompletionMessageSchema,
  [MessageType.Suspension]: SuspensionMessageSchema,
  [MessageType.Error]: ErrorMessageSchema,
  [MessageType.EntryAck]: EntryAckMessageSchema,
  [MessageType.End]: EndMessageSchema,
  [MessageType.PollInputStream]: PollInputStreamEntryMessageSchema,
  [MessageType.OutputStream]: OutputStreamEntryMessageSchema,
  [MessageType.GetState]: GetStateEntryMessageSchema,
  [MessageType.SetState]: SetStateEntryMessageSchema,
  [MessageType.ClearState]: ClearStateEntryMessageSchema,
  [MessageType.ClearAllState]: ClearAllStateEntryMessageSchema,
  [MessageType.GetStateKeys]: GetStateKeysEntryMessageSchema,
  [MessageType.Sleep]: SleepEntryMessageSchema,
  [MessageType.Invoke]: InvokeEntryMessageSchema,
  [MessageType.BackgroundInvoke]: BackgroundInvokeEntryMessageSchema,
  [MessageType.Awakeable]: AwakeableEntryMessageSchema,
  [MessageType.CompleteAwakeable]: CompleteAwakeableEntryMessageSchema,
};

const NAMES: ReadonlyMap<number, string> = new Map([
  ...Object.entries(SCHEMAS).map(([type, schema]): [number, string] => [Number(type), schema.name]),
  [MessageType.SideEffect, 'SideEffectEntryMessage'],
  [MessageType.Combinator, 'CombinatorEntryMessage'],
]);

/** The schema of a known type's body. */
export function schemaOf<T extends KnownMessageType>(type: T): GenMessage<KnownMessages[T]> {
  return SCHEMAS[type];
}

/** Whether `type` is one of the message types of §3.3 (custom types excluded). */
export function isKnownType(type: number): type is KnownMessageType {
  return Object.prototype.hasOwnProperty.call(SCHEMAS, type);
}

/** Readable name of a message type for logs and errors, e.g. `GetStateEntryMessage` or `0x0006`. */
export function messageTypeName(type: number): string {
  return NAMES.get(type) ?? `0x${type.toString(16).padStart(4, '0')}`;
}

/** Entry types that can carry a result and the COMPLETED flag. */
export const COMPLETABLE_TYPES: ReadonlySet<number> = new Set([
  MessageType.PollInputStream,
  MessageType.GetState,
  MessageType.GetStateKeys,
  MessageType.Sleep,
  MessageType.Invoke,
  MessageType.Awakeable,
]);

export type CompletableType =
  | typeof MessageType.PollInputStream
  | typeof MessageType.GetState
  | typeof MessageType.GetStateKeys
  | typeof MessageType.Sleep
  | typeof MessageType.Invoke
  | typeof MessageType.Awakeable;

/** Whether entries of this type are completable (they wait for a result). */
export function isCompletableType(type: number): type is CompletableType {
  return COMPLETABLE_TYPES.has(type);
}

/** Whether the type is a journal entry (built-in 0x0400.. or custom) rather than a control message. */
export function isEntryType(type: number): boolean {
  return type >= MessageType.PollInputStream;
}

/** Narrows to a custom entry. */
export function isCustom(msg: ProtocolMessage): msg is CustomMessage {
  return 'raw' in msg;
}

/** Narrows to a known message of the given type. */
export function isMessage<T extends KnownMessageType>(msg: ProtocolMessage, type: T): msg is ProtocolMessage & KnownMessage<T> {
  return !isCustom(msg) && msg.type === type;
}

/** Encodes one message into a frame. */
export function encodeMessage(msg: ProtocolMessage): Uint8Array {
  if (isCustom(msg)) {
    if (!isCustomType(msg.type)) {
      throw new ProtocolError(`raw body given for non-custom message type ${messageTypeName(msg.type)}`);
    }
    return encodeFrame(msg.type, msg.flags, msg.raw);
  }
  const schema: DescMessage = SCHEMAS[msg.type];
  return encodeFrame(msg.type, msg.flags, toBinary(schema, msg.message));
}

/** Encodes messages into one body. */
export function encodeMessages(msgs: readonly ProtocolMessage[]): Uint8Array {
  return concatBytes(msgs.map(encodeMessage));
}

/** Decodes one frame's body. Throws ProtocolError for an unknown non-custom type or a bad body. */
export function decodeFrame(frame: Frame): ProtocolMessage {
  const { type, flags, body } = frame;
  if (isCustomType(type)) return { type, flags, raw: body.slice() };
  if (!isKnownType(type)) throw new ProtocolError(`unknown message type ${messageTypeName(type)}`);
  try {
    const message = fromBinary(SCHEMAS[type] as DescMessage, body);
    return { type, flags, message } as KnownMessage;
  } catch (err) {
    throw new ProtocolError(`cannot decode the body of ${messageTypeName(type)}: ${String(err)}`, { cause: err });
  }
}

/** Decodes a whole buffer of frames; throws ProtocolError when truncated or for an unknown type. */
export function decodeFrames(bytes: Uint8Array): ProtocolMessage[] {
  return splitFrames(bytes).map(decodeFrame);
}

// --- Results of completable entries

/** The result of a completable entry, or of a CompletionMessage. */
export type EntryResult = { kind: 'value'; value: Uint8Array } | { kind: 'empty' } | { kind: 'failure'; code: number; message: string };

type ResultOneof =
  { case: 'value'; value: Uint8Array } | { case: 'empty'; value: Empty } | { case: 'failure'; value: Failure } | { case: undefined; value?: undefined };

function failureMessage(code: number, message: string): Failure {
  return create(FailureSchema, { code, message });
}

function toOneof(result: EntryResult): ResultOneof {
  switch (result.kind) {
    case 'value':
      return { case: 'value', value: result.value };
    case 'empty':
      return { case: 'empty', value: create(EmptySchema) };
    case 'failure':
      return { case: 'failure', value: failureMessage(result.code, result.message) };
  }
}

function fromOneof(result: ResultOneof): EntryResult | undefined {
  switch (result.case) {
    case 'value':
      return { kind: 'value', value: result.value };
    case 'empty':
      return { kind: 'empty' };
    case 'failure':
      return { kind: 'failure', code: result.value.code, message: result.value.message };
    case undefined:
      return undefined;
  }
}

/** Result kinds each completable entry accepts (§3.3). */
const ACCEPTED: { readonly [T in CompletableType]: ReadonlySet<EntryResult['kind']> } = {
  [MessageType.PollInputStream]: new Set(['value', 'failure']),
  [MessageType.GetState]: new Set(['empty', 'value', 'failure']),
  [MessageType.GetStateKeys]: new Set(['value', 'failure']),
  [MessageType.Sleep]: new Set(['empty', 'failure']),
  [MessageType.Invoke]: new Set(['value', 'failure']),
  [MessageType.Awakeable]: new Set(['value', 'failure']),
};

/**
 * Folds a result into a completable entry: returns a copy with the result set and the COMPLETED
 * flag on (request/response mode sends completions this way, never as CompletionMessages).
 * GetStateKeys takes `value` = the encoded StateKeys, as a CompletionMessage carries it
 * (`stateKeysResult` builds it). Throws ProtocolError for other entry types or a result kind the
 * entry cannot hold (e.g. a value for a Sleep).
 */
export function completeEntry<M extends ProtocolMessage>(msg: M, result: EntryResult): M;
export function completeEntry(msg: ProtocolMessage, result: EntryResult): ProtocolMessage {
  if (isCustom(msg) || !isCompletableType(msg.type)) {
    throw new ProtocolError(`${messageTypeName(msg.type)} is not a completable entry`);
  }
  if (!ACCEPTED[msg.type].has(result.kind)) {
    throw new ProtocolError(`${messageTypeName(msg.type)} cannot be completed with ${result.kind}`);
  }
  const flags = msg.flags | Flags.Completed;
  const oneof = toOneof(result);
  switch (msg.type) {
    case MessageType.GetStateKeys: {
      const message = clone(GetStateKeysEntryMessageSchema, msg.message);
      if (oneof.case === 'value') {
        let keys;
        try {
          keys = fromBinary(GetStateKeysEntryMessage_StateKeysSchema, oneof.value);
        } catch (err) {
          throw new ProtocolError(`GetStateKeys result is not an encoded StateKeys: ${String(err)}`, { cause: err });
        }
        message.result = { case: 'value', value: keys };
      } else {
        message.result = oneof as GetStateKeysEntryMessage['result'];
      }
      return { type: msg.type, flags, message };
    }
    default: {
      // Every other completable entry spells its result oneof with the same case names, and
      // ACCEPTED above already excluded the cases an entry does not have.
      const schema: DescMessage = SCHEMAS[msg.type];
      const message = clone(schema, msg.message) as unknown as { result: ResultOneof };
      message.result = oneof;
      return { type: msg.type, flags, message } as ProtocolMessage;
    }
  }
}

/**
 * The result a completable entry carries, or undefined when it has none. For GetStateKeys the
 * value is the encoded StateKeys. Returns undefined for entries that are not completable.
 */
export function entryResultOf(msg: ProtocolMessage): EntryResult | undefined {
  if (isCustom(msg) || !isCompletableType(msg.type)) return undefined;
  if (msg.type === MessageType.GetStateKeys) {
    const { result } = msg.message;
    if (result.case === 'value') {
      return { kind: 'value', value: toBinary(GetStateKeysEntryMessage_StateKeysSchema, result.value) };
    }
    return result.case === 'failure' ? fromOneof(result) : undefined;
  }
  return fromOneof((msg.message as { result: ResultOneof }).result);
}

/** The result a CompletionMessage carries; ProtocolError when it carries none. */
export function completionResult(completion: CompletionMessage): EntryResult {
  const result = fromOneof(completion.result);
  if (result === undefined) {
    throw new ProtocolError(`CompletionMessage for entry ${completion.entryIndex} has no result`);
  }
  return result;
}

/** The `value` result of a GetStateKeys entry: the encoded StateKeys message. */
export function stateKeysResult(keys: readonly Uint8Array[]): EntryResult {
  return {
    kind: 'value',
    value: toBinary(GetStateKeysEntryMessage_StateKeysSchema, create(GetStateKeysEntryMessage_StateKeysSchema, { keys: [...keys] })),
  };
}

// --- Custom entries of the TypeScript SDK, for tests and tools (the runtime never needs them)

/** Reads the body of a SideEffect custom entry (0xFC01). */
export function decodeSideEffect(raw: Uint8Array): SideEffectEntryMessage {
  return fromBinary(SideEffectEntryMessageSchema, raw);
}

/** Reads the body of a Combinator custom entry (0xFC02). */
export function decodeCombinator(raw: Uint8Array): CombinatorEntryMessage {
  return fromBinary(CombinatorEntryMessageSchema, raw);
}
