/** gRPC framing and the gRPC-web codecs: content types, frames, percent-encoding, base64 text. */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Code, RestlessError } from '../../lib/errors.js';
import { encodeFrame, grpcCodecOf, percentEncode, unaryFrame, unaryMessage } from '../../lib/ingress/grpc.js';
import { decodeTextBody, grpcWebFormatOf, trailerFrame } from '../../lib/ingress/grpc-web.js';

describe('content types', () => {
  it.each([
    { $case: 'application/grpc', ct: 'application/grpc', codec: 'proto' },
    { $case: 'application/grpc+proto', ct: 'application/grpc+proto', codec: 'proto' },
    { $case: 'application/grpc+json with parameters', ct: 'application/grpc+json; charset=utf-8', codec: 'json' },
    { $case: 'gRPC-web', ct: 'application/grpc-web', codec: undefined },
    { $case: 'an unknown codec', ct: 'application/grpc+thrift', codec: undefined },
  ])('reads the native gRPC codec of $$case', ({ ct, codec }) => {
    expect(grpcCodecOf(ct)).toBe(codec);
  });

  it.each([
    { $case: 'application/grpc-web', ct: 'application/grpc-web', format: { text: false, codec: 'proto' } },
    { $case: 'application/grpc-web+proto', ct: 'application/grpc-web+proto', format: { text: false, codec: 'proto' } },
    { $case: 'application/grpc-web-text', ct: 'application/grpc-web-text', format: { text: true, codec: 'proto' } },
    { $case: 'application/grpc-web-text+proto', ct: 'Application/gRPC-Web-Text+Proto', format: { text: true, codec: 'proto' } },
    { $case: 'application/grpc-web+json', ct: 'application/grpc-web+json', format: { text: false, codec: 'json' } },
    { $case: 'native gRPC', ct: 'application/grpc', format: undefined },
  ])('reads the gRPC-web format of $$case', ({ ct, format }) => {
    expect(grpcWebFormatOf(ct)).toEqual(format);
  });
});

describe('frames', () => {
  it('reads back the message of any frame it writes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (payload) => {
        expect(Buffer.from(unaryFrame(encodeFrame(payload), 1024).payload)).toEqual(Buffer.from(payload));
      }),
    );
  });

  it('inflates a frame flagged compressed with its grpc-encoding', async () => {
    const payload = Buffer.from('hello '.repeat(50));

    const message = await unaryMessage(encodeFrame(gzipSync(payload), 0x01), 'gzip', 1024);

    expect(Buffer.from(message)).toEqual(payload);
  });

  it('throws only RestlessErrors with client codes on any body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(null, 'identity', 'gzip', 'br', 'snappy'), async (body, encoding) => {
        try {
          await unaryMessage(body, encoding, 16);
        } catch (err) {
          expect(err).toBeInstanceOf(RestlessError);
          expect([Code.InvalidArgument, Code.Unimplemented, Code.ResourceExhausted]).toContain((err as RestlessError).code);
        }
      }),
    );
  });

  it('writes trailers as header lines in a frame flagged 0x80', () => {
    expect(Buffer.from(trailerFrame({ 'grpc-status': '5', 'grpc-message': 'x' }))).toEqual(
      Buffer.from('\x80\x00\x00\x00\x1fgrpc-status:5\r\ngrpc-message:x\r\n', 'latin1'),
    );
  });
});

describe('grpc-message percent-encoding', () => {
  it.each([
    { $case: 'plain ASCII', message: 'Service x is not accessible', encoded: 'Service x is not accessible' },
    { $case: 'a percent sign', message: '100%', encoded: '100%25' },
    { $case: 'UTF-8', message: 'grüß', encoded: 'gr%C3%BC%C3%9F' },
    { $case: 'a line break', message: 'a\nb', encoded: 'a%0Ab' },
  ])('encodes $$case', ({ message, encoded }) => {
    expect(percentEncode(message)).toBe(encoded);
  });

  it('decodes back with decodeURIComponent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(decodeURIComponent(percentEncode(s))).toBe(s);
      }),
    );
  });
});

describe('grpc-web-text bodies', () => {
  it.each([
    { $case: 'one chunk', text: Buffer.from('hello world').toString('base64'), out: 'hello world' },
    { $case: 'padded chunks back to back', text: Buffer.from('a').toString('base64') + Buffer.from('bc').toString('base64'), out: 'abc' },
    { $case: 'line breaks', text: 'aGVs\r\nbG8=', out: 'hello' },
  ])('decodes $$case', ({ text, out }) => {
    expect(Buffer.from(decodeTextBody(Buffer.from(text))!).toString()).toBe(out);
  });

  it.each([
    { $case: 'a character outside base64', text: 'aGV*bG8=' },
    { $case: 'a lone trailing character', text: 'aGVsb' },
  ])('refuses $$case', ({ text }) => {
    expect(decodeTextBody(Buffer.from(text))).toBeUndefined();
  });
});
