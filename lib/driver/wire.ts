/**
 * Request/response mode on the wire: build the one request body of an attempt (Start + the whole
 * journal with completions folded in) and split the response into new entries and its terminal.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { StartMessageSchema } from '../../gen/dev/restate/service/protocol_pb.js';
import { ProtocolError } from '../errors.js';
import { invocationIdBytes } from '../ids.js';
import { encodeFrame, Flags, MessageType, splitFrames, startMessageFlags } from '../protocol/framing.js';
import { COMPLETABLE_TYPES, decodeFrame, isMessage } from '../protocol/messages.js';
import type { Completion, InvocationRecord, JournalEntry, StateMap } from '../store/invocation-store.js';

const FLAG_COMPLETED = Flags.Completed;
const FLAG_REQUIRES_ACK = Flags.RequiresAck;

export function isCompletable(type: number): boolean {
  return COMPLETABLE_TYPES.has(type);
}

const encoder = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  const head = [...varint((field << 3) | 2), ...varint(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/** Encodes a completion as the entry's result field (13 empty, 14 value, 15 failure). */
export function resultField(c: Completion): Uint8Array {
  switch (c.kind) {
    case 'empty':
      return lengthDelimited(13, new Uint8Array(0));
    case 'value':
      return lengthDelimited(14, c.value);
    case 'failure': {
      const msg = encoder.encode(c.message);
      const failure = new Uint8Array([...(c.code ? [0x08, ...varint(c.code)] : []), ...lengthDelimited(2, msg)]);
      return lengthDelimited(15, failure);
    }
  }
}

/**
 * Folds a completion into a stored entry. Appending the result field is valid protobuf: the
 * stored entry has no result of its own (else it was already completed when it was journaled).
 */
export function foldCompletion(body: Uint8Array, c: Completion): Uint8Array {
  const field = resultField(c);
  const out = new Uint8Array(body.length + field.length);
  out.set(body, 0);
  out.set(field, body.length);
  return out;
}

export interface ReplayEntry extends JournalEntry {
  completed: boolean;
}

/** The journal as the endpoint must see it: entry 0 is the input, completions folded in. */
export function replayJournal(rec: Pick<InvocationRecord, 'input' | 'journal' | 'completions'>): ReplayEntry[] {
  const entries: ReplayEntry[] = [{ type: MessageType.PollInputStream, flags: FLAG_COMPLETED, body: resultField({ kind: 'value', value: rec.input }), completed: true }];
  rec.journal.forEach((e, i) => {
    const index = i + 1;
    const completion = rec.completions.get(index);
    const alreadyCompleted = (e.flags & FLAG_COMPLETED) !== 0;
    if (completion && !alreadyCompleted && isCompletable(e.type)) {
      entries.push({ type: e.type, flags: (e.flags | FLAG_COMPLETED) & ~FLAG_REQUIRES_ACK, body: foldCompletion(e.body, completion), completed: true });
    } else {
      entries.push({ ...e, flags: e.flags & ~FLAG_REQUIRES_ACK, completed: alreadyCompleted || !isCompletable(e.type) });
    }
  });
  return entries;
}

export function buildRequestBody(rec: Pick<InvocationRecord, 'id' | 'input' | 'journal' | 'completions'>, state: StateMap): Uint8Array {
  const entries = replayJournal(rec);
  const start = create(StartMessageSchema, {
    id: invocationIdBytes(rec.id),
    debugId: rec.id,
    knownEntries: entries.length,
    stateMap: [...state].map(([key, value]) => ({ key: encoder.encode(key), value })),
    partialState: false,
  });
  const frames = [encodeFrame(MessageType.Start, startMessageFlags(), toBinary(StartMessageSchema, start)), ...entries.map((e) => encodeFrame(e.type, e.flags, e.body))];
  const total = frames.reduce((n, f) => n + f.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const f of frames) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}

export type Terminal =
  | { kind: 'end' }
  | { kind: 'suspension'; indexes: number[] }
  | { kind: 'error'; code: number; message: string }
  /** The stream ended with none of End, Suspension or Error. */
  | { kind: 'eof' };

export interface ParsedResponse {
  entries: JournalEntry[];
  terminal: Terminal;
}

/** Splits the endpoint's answer; rejects what the protocol forbids (notes §3.4). */
export function parseResponseBody(body: Uint8Array, journalLength: number): ParsedResponse {
  const entries: JournalEntry[] = [];
  let terminal: Terminal | undefined;
  for (const frame of splitFrames(body)) {
    // Decoding validates the type (unknown non-custom types are a protocol violation) and body.
    const msg = decodeFrame(frame);
    if (terminal) throw new ProtocolError(`message type 0x${frame.type.toString(16)} after the terminal message`);
    switch (frame.type) {
      case MessageType.End:
        terminal = { kind: 'end' };
        break;
      case MessageType.Suspension: {
        const indexes = isMessage(msg, MessageType.Suspension) ? [...msg.message.entryIndexes] : [];
        if (indexes.length === 0) throw new ProtocolError('suspension without entry indexes');
        const length = journalLength + entries.length;
        const bad = indexes.find((i) => i >= length);
        if (bad !== undefined) throw new ProtocolError(`suspension on entry ${bad}, but the journal has ${length} entries`);
        terminal = { kind: 'suspension', indexes };
        break;
      }
      case MessageType.Error:
        if (isMessage(msg, MessageType.Error)) terminal = { kind: 'error', code: msg.message.code, message: msg.message.message || 'endpoint error' };
        break;
      case MessageType.Start:
      case MessageType.Completion:
      case MessageType.EntryAck:
        throw new ProtocolError(`the endpoint sent message type 0x${frame.type.toString(16)}, which only the runtime may send`);
      default:
        entries.push({ type: frame.type, flags: frame.flags, body: frame.body });
    }
  }
  return { entries, terminal: terminal ?? { kind: 'eof' } };
}

