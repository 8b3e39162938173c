import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../lib/errors.js';
import {
  encodeFrame,
  Flags,
  FrameDecoder,
  isCompletedFlag,
  isCustomType,
  MessageType,
  protocolVersionOf,
  requiresAckFlag,
  splitFrames,
  startMessageFlags,
} from '../../lib/protocol/framing.js';
import { decodeFrames, encodeMessage, encodeMessages } from '../../lib/protocol/messages.js';
import * as build from '../../lib/protocol/builders.js';
import { hex, unhex } from './helpers.js';

describe('encodeFrame', () => {
  it.each([
    { $case: 'StartMessage PV=1, 35-byte body', type: 0x0000, flags: startMessageFlags(), length: 35, header: '0000 0001 00000023' },
    { $case: 'completed PollInputStream', type: 0x0400, flags: Flags.Completed, length: 21, header: '0400 0001 00000015' },
    { $case: 'OutputStream', type: 0x0401, flags: 0, length: 15, header: '0401 0000 0000000f' },
    { $case: 'End', type: 0x0005, flags: 0, length: 0, header: '0005 0000 00000000' },
    { $case: 'SideEffect with REQUIRES_ACK', type: 0xfc01, flags: Flags.RequiresAck, length: 3, header: 'fc01 8000 00000003' },
    { $case: 'big-endian length', type: 0x0c01, flags: 0, length: 0x010203, header: '0c01 0000 00010203' },
  ])('writes the header $header for $$case', ({ type, flags, length, header }) => {
    // Prepare
    const body = new Uint8Array(length).fill(0xab);

    // Act
    const frame = encodeFrame(type, flags, body);

    // Assess
    expect(hex(frame.subarray(0, 8))).toBe(header.replaceAll(' ', ''));
    expect(frame.subarray(8)).toEqual(body);
  });

  it('rejects a type or flags that do not fit 16 bits', () => {
    expect(() => encodeFrame(0x10000, 0, new Uint8Array())).toThrow(RangeError);
    expect(() => encodeFrame(0, -1, new Uint8Array())).toThrow(RangeError);
  });
});

describe('flags', () => {
  it('puts the protocol version in the low 10 bits of a StartMessage header', () => {
    expect(startMessageFlags()).toBe(1);
    expect(protocolVersionOf(startMessageFlags(1))).toBe(1);
    expect(protocolVersionOf(0x8000 | 0x03ff)).toBe(0x03ff);
    expect(() => startMessageFlags(0x400)).toThrow(RangeError);
  });

  it('reads COMPLETED from bit 0 and REQUIRES_ACK from bit 15 of the flags', () => {
    expect(isCompletedFlag(0x0001)).toBe(true);
    expect(isCompletedFlag(0x8000)).toBe(false);
    expect(requiresAckFlag(0x8000)).toBe(true);
    expect(requiresAckFlag(0x0001)).toBe(false);
  });

  it('treats types from 0xFC00 up as custom', () => {
    expect(isCustomType(0xfc00)).toBe(true);
    expect(isCustomType(MessageType.SideEffect)).toBe(true);
    expect(isCustomType(0xffff)).toBe(true);
    expect(isCustomType(0xfbff)).toBe(false);
    expect(isCustomType(MessageType.CompleteAwakeable)).toBe(false);
  });
});

describe('decodeFrames', () => {
  it.each([
    { $case: '1 byte', bytes: '00' },
    { $case: '7 bytes', bytes: '0005 0000 000000' },
    { $case: 'a whole frame then 3 bytes', bytes: '0005 0000 00000000 0401 00' },
  ])('rejects a truncated header ($$case) with ProtocolError', ({ bytes }) => {
    expect(() => decodeFrames(unhex(bytes))).toThrow(ProtocolError);
    expect(() => decodeFrames(unhex(bytes))).toThrow(/truncated frame header/);
  });

  it.each([
    { $case: 'no body at all', bytes: '0401 0000 00000005' },
    { $case: '4 of 5 bytes', bytes: '0401 0000 00000005 7203 6f75' },
  ])('rejects a truncated body ($$case) with ProtocolError', ({ bytes }) => {
    expect(() => decodeFrames(unhex(bytes))).toThrow(ProtocolError);
    expect(() => decodeFrames(unhex(bytes))).toThrow(/truncated frame body of message type 0x0401: \d of 5 bytes/);
  });

  it.each([
    { $case: '0x0006', type: '0006' },
    { $case: '0x0402', type: '0402' },
    { $case: '0x0C05', type: '0c05' },
    { $case: '0x1000', type: '1000' },
    { $case: '0xFBFF', type: 'fbff' },
  ])('rejects the unknown non-custom type $$case with ProtocolError', ({ type, $case }) => {
    const bytes = unhex(`${type} 0000 00000000`);
    expect(() => decodeFrames(bytes)).toThrow(ProtocolError);
    expect(() => decodeFrames(bytes)).toThrow(`unknown message type ${$case.toLowerCase()}`);
  });

  it('rejects a body that is not the protobuf of its type with ProtocolError', () => {
    // A length-delimited field 1 claiming 5 bytes, with 1 present.
    const bytes = encodeFrame(MessageType.GetState, 0, unhex('0a05 61'));
    expect(() => decodeFrames(bytes)).toThrow(ProtocolError);
    expect(() => decodeFrames(bytes)).toThrow(/cannot decode the body of GetStateEntryMessage/);
  });

  it('rejects a body length above 1 GiB before waiting for it', () => {
    expect(() => new FrameDecoder().push(unhex('0401 0000 7fffffff'))).toThrow(ProtocolError);
  });

  it('decodes an empty buffer to no messages', () => {
    expect(decodeFrames(new Uint8Array())).toEqual([]);
  });
});

describe('custom entries', () => {
  it('keeps an unknown custom entry opaque and re-encodes it byte for byte', () => {
    // Prepare: type 0xFC7F is nobody's; its body is not even protobuf.
    const frame = unhex('fc7f 8001 00000004 deadbeef');

    // Act
    const [msg] = decodeFrames(frame);

    // Assess
    expect(msg).toEqual({ type: 0xfc7f, flags: 0x8001, raw: unhex('deadbeef') });
    expect(hex(encodeMessage(msg!))).toBe(hex(frame));
  });

  it('keeps the SDK SideEffect entry opaque', () => {
    const frame = unhex('fc01 8000 00000003 720137');
    const [msg] = decodeFrames(frame);
    expect(msg).toEqual(build.sideEffect({ value: '7' }, { requiresAck: true }));
    expect(hex(encodeMessage(msg!))).toBe(hex(frame));
  });

  it('copies the raw body out of the input buffer', () => {
    const frame = unhex('fc01 0000 00000003 720137');
    const [msg] = decodeFrames(frame);
    frame.fill(0);
    expect(msg).toEqual({ type: 0xfc01, flags: 0, raw: unhex('720137') });
  });

  it('refuses a raw body for a built-in type', () => {
    expect(() => encodeMessage({ type: MessageType.GetState, flags: 0, raw: new Uint8Array() })).toThrow(ProtocolError);
  });
});

describe('FrameDecoder', () => {
  it('returns frames as chunks complete them', () => {
    // Prepare
    const bytes = encodeMessages([build.output('a'), build.end()]);
    const decoder = new FrameDecoder();

    // Act
    const first = decoder.push(bytes.subarray(0, 5)); // inside the first header
    const second = decoder.push(bytes.subarray(5, 10)); // inside the first body
    const third = decoder.push(bytes.subarray(10)); // the rest of both frames

    // Assess
    expect(first).toEqual([]);
    expect(second).toEqual([]);
    expect(third.map((f) => f.type)).toEqual([MessageType.OutputStream, MessageType.End]);
    expect(() => decoder.end()).not.toThrow();
  });

  it('reports a stream that stops inside a frame at end()', () => {
    const decoder = new FrameDecoder();
    decoder.push(unhex('0401 0000 00000003 72'));
    expect(decoder.pending).toBe(9);
    expect(() => decoder.end()).toThrow(ProtocolError);
  });

  it('splits any chunking of a stream into the same frames', () => {
    const frameArb = fc.record({
      type: fc.integer({ min: 0, max: 0xffff }),
      flags: fc.integer({ min: 0, max: 0xffff }),
      body: fc.uint8Array({ maxLength: 40 }),
    });
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, cuts) => {
        const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.flags, f.body)));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const decoder = new FrameDecoder();
        const out = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          out.push(...decoder.push(bytes.subarray(from, p)));
          from = p;
        }
        decoder.end();
        expect(out.map((f) => ({ ...f, body: new Uint8Array(f.body) }))).toEqual(frames);
        expect(splitFrames(bytes).length).toBe(frames.length);
      }),
    );
  });
});
