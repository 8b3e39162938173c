/**
 * Framing of the Restate service protocol (v1): every message is an 8-byte big-endian header
 * followed by the protobuf body.
 *
 * ```
 *  0       2       4               8
 *  +-------+-------+---------------+----------------
 *  | type  | flags | body length   | body (protobuf)
 *  +-------+-------+---------------+----------------
 *    u16     u16     u32, header excluded
 * ```
 *
 * The flags mean different things per type: the protocol version (10 bits) on StartMessage,
 * COMPLETED on completable entries, REQUIRES_ACK on entries the SDK wants acknowledged.
 */
import { ProtocolError } from '../errors.js';

/** Message type ids (docs/protocol.md §3.3). Types >= 0xFC00 are custom entries of an SDK. */
export const MessageType = {
  Start: 0x0000,
  Completion: 0x0001,
  Suspension: 0x0002,
  Error: 0x0003,
  EntryAck: 0x0004,
  End: 0x0005,
  PollInputStream: 0x0400,
  OutputStream: 0x0401,
  GetState: 0x0800,
  SetState: 0x0801,
  ClearState: 0x0802,
  ClearAllState: 0x0803,
  GetStateKeys: 0x0804,
  Sleep: 0x0c00,
  Invoke: 0x0c01,
  BackgroundInvoke: 0x0c02,
  Awakeable: 0x0c03,
  CompleteAwakeable: 0x0c04,
  /** Custom entry of the TypeScript SDK (`dev.restate.sdk.javascript.SideEffectEntryMessage`). */
  SideEffect: 0xfc01,
  /** Custom entry of the TypeScript SDK 0.8 (`dev.restate.sdk.javascript.CombinatorEntryMessage`). */
  Combinator: 0xfc02,
} as const;

/** First custom message type: anything from here up is an SDK's own entry, stored opaquely. */
export const CUSTOM_TYPE_MIN = 0xfc00;

/** Header size in bytes. */
export const HEADER_LENGTH = 8;

/** Flag masks on the 16-bit flags field. */
export const Flags = {
  /** COMPLETED: the entry carries its result (completable entries only). */
  Completed: 0x0001,
  /** REQUIRES_ACK (v1): the SDK waits until the runtime stored the entry. */
  RequiresAck: 0x8000,
  /** Protocol version, StartMessage only (10 bits). */
  ProtocolVersionMask: 0x03ff,
} as const;

/** The service protocol version we speak; SDK 0.8.1 accepts exactly this. */
export const PROTOCOL_VERSION = 1;

/** The body length is a u32, but nothing that large can be meant: refuse frames above 1 GiB. */
const MAX_BODY_LENGTH = 1 << 30;

/** One frame with its body still encoded. */
export interface Frame {
  type: number;
  flags: number;
  body: Uint8Array;
}

/** Whether a type is an SDK's custom entry (>= 0xFC00). */
export function isCustomType(type: number): boolean {
  return type >= CUSTOM_TYPE_MIN;
}

/** Flags of a StartMessage header carrying protocol version `version` (default 1). */
export function startMessageFlags(version: number = PROTOCOL_VERSION): number {
  if (!Number.isInteger(version) || version < 0 || version > Flags.ProtocolVersionMask) {
    throw new RangeError(`protocol version out of range: ${version}`);
  }
  return version;
}

/** The protocol version carried by StartMessage flags. */
export function protocolVersionOf(flags: number): number {
  return flags & Flags.ProtocolVersionMask;
}

/** Whether the COMPLETED flag is set. */
export function isCompletedFlag(flags: number): boolean {
  return (flags & Flags.Completed) !== 0;
}

/** Whether the REQUIRES_ACK flag is set. */
export function requiresAckFlag(flags: number): boolean {
  return (flags & Flags.RequiresAck) !== 0;
}

/** Encodes one frame: header then body. */
export function encodeFrame(type: number, flags: number, body: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xffff) throw new RangeError(`message type out of range: ${type}`);
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) throw new RangeError(`flags out of range: ${flags}`);
  const out = new Uint8Array(HEADER_LENGTH + body.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, type);
  view.setUint16(2, flags);
  view.setUint32(4, body.length);
  out.set(body, HEADER_LENGTH);
  return out;
}

/** Concatenates byte arrays (frames into one body). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Splits a complete buffer into frames. Throws ProtocolError when a header or body is cut short.
 * Bodies are views into `bytes`, not copies.
 */
export function splitFrames(bytes: Uint8Array): Frame[] {
  const decoder = new FrameDecoder();
  const frames = decoder.push(bytes);
  decoder.end();
  return frames;
}

/**
 * Incremental frame splitter for a body that arrives in chunks (an HTTP/2 stream). `push` returns
 * the frames completed so far; `end` throws if the stream stopped inside a frame.
 */
export class FrameDecoder {
  private buffered: Uint8Array = new Uint8Array(0);
  private offset = 0;

  /** Adds a chunk and returns every frame it completes. */
  push(chunk: Uint8Array): Frame[] {
    this.buffered = this.offset < this.buffered.length ? concatBytes([this.buffered.subarray(this.offset), chunk]) : chunk;
    this.offset = 0;
    const frames: Frame[] = [];
    for (;;) {
      const available = this.buffered.length - this.offset;
      if (available < HEADER_LENGTH) break;
      const view = new DataView(this.buffered.buffer, this.buffered.byteOffset + this.offset, HEADER_LENGTH);
      const length = view.getUint32(4);
      if (length > MAX_BODY_LENGTH) {
        throw new ProtocolError(`frame body of ${length} bytes exceeds the limit of ${MAX_BODY_LENGTH} bytes`);
      }
      if (available < HEADER_LENGTH + length) break;
      const start = this.offset + HEADER_LENGTH;
      frames.push({ type: view.getUint16(0), flags: view.getUint16(2), body: this.buffered.subarray(start, start + length) });
      this.offset = start + length;
    }
    return frames;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.buffered.length - this.offset;
  }

  /** Declares the end of the stream; throws ProtocolError if it stopped inside a frame. */
  end(): void {
    const available = this.pending;
    if (available === 0) return;
    if (available < HEADER_LENGTH) {
      throw new ProtocolError(`truncated frame header: ${available} of ${HEADER_LENGTH} bytes`);
    }
    const view = new DataView(this.buffered.buffer, this.buffered.byteOffset + this.offset, HEADER_LENGTH);
    const type = view.getUint16(0);
    throw new ProtocolError(
      `truncated frame body of message type 0x${type.toString(16).padStart(4, '0')}: ` + `${available - HEADER_LENGTH} of ${view.getUint32(4)} bytes`,
    );
  }
}
