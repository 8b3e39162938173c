/**
 * The chaos workload endpoint as its own process: the SDK's h2c handler behind an HTTP/2 server
 * that can misbehave on purpose, plus a small HTTP/1.1 control port for the harness.
 *
 *   node --import tsx test/chaos/workload-endpoint.ts --port <h2c> --control-port <http>
 *
 * Faults (per invocation request, while switched on with POST /faults):
 *   crashBefore  the stream is reset before the SDK sees the request (nothing ran);
 *   crashAfter   the SDK runs the handler (side effects happen), then the stream is reset
 *                instead of ending: the work is done, the answer is lost;
 *   hang         the request is never answered (the runner's timeout must cut it).
 * POST /faults/off switches them off and resets every hung stream. Each fault is one stdout line
 * `{"msg":"fault injected","fault":"endpoint.<kind>"}`. Killing the process is the harness's job.
 */
import { constants, createServer as createH2Server, type ServerHttp2Stream } from 'node:http2';
import { createServer as createHttpServer } from 'node:http';
import { parseArgs } from 'node:util';
import { seededRandom, type SeededRandom } from '../../lib/local/seeded-random.js';
import { RECORDS_DIR_ENV } from './records.js';
import { workloadEndpoint } from './workload-services.js';

export interface EndpointFaults {
  seed: number;
  crashBefore: number;
  crashAfter: number;
  hang: number;
}

const { values } = parseArgs({ options: { port: { type: 'string' }, 'control-port': { type: 'string' } } });
if (!process.env[RECORDS_DIR_ENV]) throw new Error(`${RECORDS_DIR_ENV} must name the records folder`);

const sdk = workloadEndpoint().http2Handler();
let faults: (EndpointFaults & { rng: SeededRandom }) | undefined;
const hung = new Set<ServerHttp2Stream>();

const injected = (fault: string) => process.stdout.write(`${JSON.stringify({ msg: 'fault injected', fault: `endpoint.${fault}` })}\n`);

const server = createH2Server((req, res) => {
  const stream = req.stream;
  if (faults && req.url.startsWith('/invoke/')) {
    const r = faults.rng.next();
    if (r < faults.crashBefore) {
      injected('crash-before');
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (r < faults.crashBefore + faults.hang) {
      injected('hang');
      hung.add(stream);
      stream.once('close', () => hung.delete(stream));
      return;
    }
    if (r < faults.crashBefore + faults.hang + faults.crashAfter) {
      // The SDK ends the stream when the handler suspended or returned: reset it instead.
      stream.end = ((..._args: unknown[]) => {
        injected('crash-after');
        stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        return stream;
      }) as typeof stream.end;
    }
  }
  sdk(req, res);
});
// A reset stream must not take the process down.
server.on('sessionError', () => undefined);
server.on('streamError', () => undefined);

const control = createHttpServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/faults') {
      const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EndpointFaults;
      faults = { ...spec, rng: seededRandom(spec.seed) };
    } else if (req.method === 'POST' && req.url === '/faults/off') {
      faults = undefined;
      for (const s of hung) s.close(constants.NGHTTP2_INTERNAL_ERROR);
      hung.clear();
    } else if (!(req.method === 'GET' && req.url === '/health')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
});

const listen = (s: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }, port: number) =>
  new Promise<number>((resolve) => s.listen(port, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
const port = await listen(server, Number(values.port ?? 0));
const controlPort = await listen(control, Number(values['control-port'] ?? 0));
process.stdout.write(`${JSON.stringify({ msg: 'workload endpoint ready', port, controlPort })}\n`);
