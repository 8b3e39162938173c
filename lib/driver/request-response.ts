/**
 * Request/response mode on the wire: build the one request body of an attempt (Start + the whole
 * journal with completions folded in) and split the response into new entries and its terminal.
 */
import { ProtocolError } from '../errors.js';
import { invocationIdBytes } from '../ids.js';
import { pollInput, start } from '../protocol/builders.js';
import { concatBytes, encodeFrame, Flags, MessageType, splitFrames } from '../protocol/framing.js';
import { COMPLETABLE_TYPES, completeEntry, decodeFrame, encodeMessage, isMessage } from '../protocol/messages.js';
import type { InvocationRecord, JournalEntry, StateMap } from '../store/invocation-store.js';

export function isCompletable(type: number): boolean {
  return COMPLETABLE_TYPES.has(type);
}

/** The journal as the endpoint must see it: entry 0 is the input, completions folded in. */
export function replayFrames(rec: Pick<InvocationRecord, 'input' | 'journal' | 'completions'>): Uint8Array[] {
  const frames = [encodeMessage(pollInput(rec.input))];
  rec.journal.forEach((e, i) => {
    const completion = rec.completions.get(i + 1);
    // Custom entries are replayed with the ack bit cleared (stored = acknowledged).
    const flags = e.flags & ~Flags.RequiresAck;
    if (completion && (e.flags & Flags.Completed) === 0 && isCompletable(e.type)) {
      try {
        frames.push(encodeMessage(completeEntry(decodeFrame({ type: e.type, flags, body: e.body }), completion)));
        return;
      } catch (err) {
        // A result this entry cannot hold is never sent: the entry stays pending rather than
        // failing every replay of the invocation.
        if (!(err instanceof ProtocolError)) throw err;
      }
    }
    frames.push(encodeFrame(e.type, flags, e.body));
  });
  return frames;
}

export function buildRequestBody(rec: Pick<InvocationRecord, 'id' | 'input' | 'journal' | 'completions'>, state: StateMap): Uint8Array {
  const entries = replayFrames(rec);
  const head = start({ id: invocationIdBytes(rec.id), debugId: rec.id, knownEntries: entries.length, state, partialState: false });
  return concatBytes([encodeMessage(head), ...entries]);
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

/** Splits the endpoint's answer; rejects what the protocol forbids (docs/protocol.md §3.4). */
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
