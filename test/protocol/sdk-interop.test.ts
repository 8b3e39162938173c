/**
 * Our codec against the real SDK 0.8.1, in process: frames built here go into the endpoint's
 * `lambdaHandler()`, and its answer must decode to exactly the expected frames (request/response
 * mode, docs/protocol.md §3.4).
 */
import * as restate from '@restatedev/restate-sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { greeterEndpoint } from '../../examples/greeter/greeter.js';
import { GreetRequest, GreetResponse } from '../../examples/greeter/generated/greeter.js';
import { servicesEndpoint } from '../../examples/services.js';
import { encodeAwakeableId } from '../../lib/protocol/awakeable-id.js';
import * as build from '../../lib/protocol/builders.js';
import { Flags, MessageType } from '../../lib/protocol/framing.js';
import { decodeFrames, encodeMessages, isMessage, type ProtocolMessage } from '../../lib/protocol/messages.js';
import { callLambda, hex, readRpcResponse, rpcRequest, rpcResponse, unhex } from './helpers.js';

const { emptyResult, valueResult } = build;
const INVOCATION_ID = '0123456789abcdef01234567';

/** Sends `[Start, ...journal]` to `/invoke/{service}/{method}` and decodes the answer. */
async function invoke(
  endpoint: restate.RestateEndpoint,
  service: string,
  method: string,
  journal: ProtocolMessage[],
  start: Partial<build.StartOptions> = {},
): Promise<ProtocolMessage[]> {
  const head = build.start({ id: INVOCATION_ID, debugId: 'inv_x', knownEntries: journal.length, ...start });
  const res = await callLambda(endpoint, `/invoke/${service}/${method}`, encodeMessages([head, ...journal]));
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('application/restate');
  return decodeFrames(res.body);
}

/** Test-only routers for the SDK features the example services do not use. */
function featuresEndpoint(): restate.RestateEndpoint {
  return restate.endpoint().bindRouter(
    'features',
    restate.router({
      effect: async (ctx: restate.Context) => ctx.sideEffect(async () => 7),
      awakeableId: async (ctx: restate.Context) => ctx.awakeable<string>().id,
      fail: async () => {
        throw new restate.TerminalError('nope', { errorCode: 9 });
      },
      crash: async () => {
        throw new Error('boom');
      },
    }),
  );
}

describe('SDK 0.8.1 interop', () => {
  beforeAll(() => {
    // The SDK logs every invocation at INVOKE level; keep the test output readable.
    for (const level of ['log', 'info', 'debug', 'trace', 'error'] as const) vi.spyOn(console, level).mockImplementation(() => undefined);
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  describe('worked example (docs/protocol.md §3.8)', () => {
    const request = [
      '0000 0001 00000023', // StartMessage, PV = 1, 35 bytes
      `0a18 ${Buffer.from(INVOCATION_ID).toString('hex')} 1205 696e765f78 1801`,
      '0400 0001 00000015', // PollInputStream, COMPLETED, 21 bytes
      '7213 1211 2a0f 0a0d 0a04 6e616d65 1205 1a03 416461', // value = RpcRequest{request = {name: "Ada"}}
    ].join('');
    const response = [
      '0401 0000 0000000f 720d 0a0b 1a09 48656c6c6f20416461', // Output value = RpcResponse{response = "Hello Ada"}
      '0005 0000 00000000', // End
    ].join('');

    it('encodes Start and PollInput byte for byte', () => {
      // Act
      const bytes = encodeMessages([build.start({ id: INVOCATION_ID, debugId: 'inv_x', knownEntries: 1 }), build.pollInput(rpcRequest({ name: 'Ada' }))]);

      // Assess
      expect(hex(bytes)).toBe(request.replaceAll(' ', ''));
    });

    it('decodes the response into Output and End', () => {
      expect(decodeFrames(unhex(response))).toEqual([build.output(rpcResponse('Hello Ada')), build.end()]);
    });

    it('gets exactly the response bytes from the real SDK', async () => {
      const res = await callLambda(servicesEndpoint(), '/invoke/greeter/greet', unhex(request));
      expect(hex(res.body)).toBe(response.replaceAll(' ', ''));
    });
  });

  describe('router services', () => {
    it('answers Output and End when the unkeyed greeter returns', async () => {
      const out = await invoke(servicesEndpoint(), 'greeter', 'greet', [build.pollInput(rpcRequest({ name: 'Pete' }))]);
      expect(out).toEqual([build.output(rpcResponse('Hello Pete')), build.end()]);
    });

    it('reads state from the full state map, then writes and returns when the counter adds', async () => {
      // Prepare
      const journal = [build.pollInput(rpcRequest({ delta: 1 }, 'k1'))];

      // Act
      const out = await invoke(servicesEndpoint(), 'counter', 'add', journal, { state: { count: '41' } });

      // Assess
      expect(out).toEqual([build.getState('count', valueResult('41')), build.setState('count', '42'), build.output(rpcResponse(42)), build.end()]);
    });

    it('completes GetState empty when the full state map lacks the key', async () => {
      const out = await invoke(servicesEndpoint(), 'counter', 'add', [build.pollInput(rpcRequest({}, 'k1'))]);
      expect(out).toEqual([build.getState('count', emptyResult), build.setState('count', '1'), build.output(rpcResponse(1)), build.end()]);
    });

    it('asks for the state and suspends on it when the state is partial', async () => {
      const out = await invoke(servicesEndpoint(), 'counter', 'get', [build.pollInput(rpcRequest(null, 'k1'))], { partialState: true });
      expect(out).toEqual([build.getState('count'), build.suspension([1])]);
    });

    it('resumes from a replayed, completed GetState without echoing it', async () => {
      const journal = [build.pollInput(rpcRequest(null, 'k1')), build.getState('count', valueResult('5'))];
      const out = await invoke(servicesEndpoint(), 'counter', 'get', journal, { partialState: true });
      expect(out).toEqual([build.output(rpcResponse(5)), build.end()]);
    });

    it('writes a Sleep entry and suspends on it when the handler sleeps', async () => {
      // Prepare
      const before = Date.now();

      // Act
      const out = await invoke(servicesEndpoint(), 'sleeper', 'sleep', [build.pollInput(rpcRequest({ millis: 100 }))]);

      // Assess: the wake-up time is "now + 100 ms" as the SDK saw now.
      const [sleep, suspension] = out;
      if (sleep === undefined || !isMessage(sleep, MessageType.Sleep)) throw new Error('expected a Sleep entry first');
      const wakeUp = Number(sleep.message.wakeUpTime);
      expect(wakeUp).toBeGreaterThanOrEqual(before + 100);
      expect(wakeUp).toBeLessThanOrEqual(Date.now() + 100);
      expect(out).toEqual([build.sleep(wakeUp), build.suspension([1])]);
      expect(suspension).toEqual(build.suspension([1]));
    });

    it('finishes when the Sleep is replayed completed', async () => {
      const journal = [build.pollInput(rpcRequest({ millis: 100 })), build.sleep(1_700_000_000_000, emptyResult)];
      const out = await invoke(servicesEndpoint(), 'sleeper', 'sleep', journal);
      expect(out).toEqual([build.output(rpcResponse('slept 100')), build.end()]);
    });

    it('answers an ErrorMessage with code 32 when the replayed journal does not match the code', async () => {
      const journal = [build.pollInput(rpcRequest({ millis: 100 })), build.setState('x', 'y')];
      const out = await invoke(servicesEndpoint(), 'sleeper', 'sleep', journal);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ type: MessageType.Error, message: { code: 32 } });
    });
  });

  describe('custom entries, awakeables and failures', () => {
    it('writes a SideEffect with REQUIRES_ACK and suspends on it', async () => {
      const out = await invoke(featuresEndpoint(), 'features', 'effect', [build.pollInput(rpcRequest(null))]);
      expect(out).toEqual([build.sideEffect({ value: '7' }, { requiresAck: true }), build.suspension([1])]);
      expect(out[0]?.flags).toBe(Flags.RequiresAck);
    });

    it('accepts the opaque SideEffect back on replay and finishes', async () => {
      // Prepare: the entry exactly as the SDK wrote it, ack bit cleared as on every replay.
      const first = await invoke(featuresEndpoint(), 'features', 'effect', [build.pollInput(rpcRequest(null))]);
      const effect = { ...first[0]!, flags: 0 };

      // Act
      const out = await invoke(featuresEndpoint(), 'features', 'effect', [build.pollInput(rpcRequest(null)), effect]);

      // Assess
      expect(out).toEqual([build.output(rpcResponse(7)), build.end()]);
    });

    it('hands out the awakeable id our codec computes', async () => {
      const out = await invoke(featuresEndpoint(), 'features', 'awakeableId', [build.pollInput(rpcRequest(null))]);
      const expectedId = encodeAwakeableId(new TextEncoder().encode(INVOCATION_ID), 1);
      expect(out).toEqual([build.awakeable(), build.output(rpcResponse(expectedId)), build.end()]);
    });

    it('answers a terminal failure as an OutputStream failure and End', async () => {
      const out = await invoke(featuresEndpoint(), 'features', 'fail', [build.pollInput(rpcRequest(null))]);
      expect(out).toEqual([build.outputFailure(9, 'nope'), build.end()]);
    });

    it('answers any other exception with an ErrorMessage and no End', async () => {
      const out = await invoke(featuresEndpoint(), 'features', 'crash', [build.pollInput(rpcRequest(null))]);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ type: MessageType.Error, message: { code: 13, message: 'boom' } });
    });

    it('refuses a StartMessage with another protocol version (Lambda: 500 with a JSON message)', async () => {
      // Prepare: PV = 0, as runtimes up to 0.7 sent. (The SDK's HTTP/2 server answers 200 with
      // an empty body instead, docs/protocol.md §1; behind lambdaHandler() it is a 500.)
      const body = encodeMessages([build.start({ id: INVOCATION_ID, knownEntries: 1, protocolVersion: 0 }), build.pollInput(rpcRequest({ name: 'x' }))]);

      // Act
      const res = await callLambda(servicesEndpoint(), '/invoke/greeter/greet', body);

      // Assess
      expect(res.statusCode).toBe(500);
      expect(JSON.parse(Buffer.from(res.body).toString('utf8'))).toEqual({
        message: expect.stringContaining('Unsupported protocol version 0'),
      });
    });
  });

  describe('protobuf service (bindService)', () => {
    it('answers the seed example {"name": "Pete"} with {"greeting": "Hello Pete"}', async () => {
      // Prepare
      const input = GreetRequest.encode({ name: 'Pete' }).finish();

      // Act
      const out = await invoke(greeterEndpoint(), 'org.example.Greeter', 'Greet', [build.pollInput(input)]);

      // Assess
      const [output, end] = out;
      if (output === undefined || !isMessage(output, MessageType.OutputStream) || output.message.result.case !== 'value') {
        throw new Error('expected an OutputStream value first');
      }
      expect(GreetResponse.decode(output.message.result.value)).toEqual({ greeting: 'Hello Pete' });
      expect(end).toEqual(build.end());
    });
  });

  it('reads back what the router wrote (sanity check of the test helpers)', () => {
    expect(readRpcResponse(rpcResponse({ a: [1, 'b'] }))).toEqual({ a: [1, 'b'] });
    expect(readRpcResponse(new Uint8Array())).toBeUndefined();
  });
});
