/**
 * Where the local runner serves the bundled example endpoint. Without `--example-port` it takes
 * the port of the example's last registration while that is free, else any free port: the same
 * address is the same deployment, so invocations pinned to it (a sleep in flight) finish after a
 * restart, where a new address would leave them retrying against a closed port.
 */
import type { Http2Server } from 'node:http2';

/** A service of the bundled example endpoint, to find its last registration by. */
const EXAMPLE_SERVICE = 'org.example.Greeter';

/** One admin API GET: status and parsed JSON body (undefined when there is none). */
export type AdminGet = (path: string) => Promise<{ status: number; json: unknown }>;

/** The port of the example's latest registration (the runner registers `http://127.0.0.1:<port>`), or undefined. */
export async function previousExamplePort(get: AdminGet): Promise<number | undefined> {
  const service = await get(`/services/${EXAMPLE_SERVICE}`);
  const endpointId = (service.json as { endpoint_id?: unknown } | undefined)?.endpoint_id;
  if (service.status !== 200 || typeof endpointId !== 'string') return undefined;
  const endpoint = await get(`/endpoints/${encodeURIComponent(endpointId)}`);
  const uri = (endpoint.json as { uri?: unknown } | undefined)?.uri;
  if (endpoint.status !== 200 || typeof uri !== 'string') return undefined;
  try {
    const url = new URL(uri);
    const port = Number(url.port);
    return url.hostname === '127.0.0.1' && Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Listens on 127.0.0.1: on `requested`, or (0) on the previous example port while free, else any
 * free port. A requested port in use is an error that names it.
 */
export async function listenExample(h2: Http2Server, requested: number, get: AdminGet): Promise<number> {
  const listen = (port: number) =>
    new Promise<number>((res, rej) => {
      const onError = (err: NodeJS.ErrnoException) => rej(err);
      h2.once('error', onError);
      h2.listen(port, '127.0.0.1', () => {
        h2.off('error', onError);
        const a = h2.address();
        res(typeof a === 'object' && a ? a.port : port);
      });
    });
  const inUse = (err: unknown) => (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
  try {
    if (requested !== 0) return await listen(requested);
    const previous = await previousExamplePort(get).catch(() => undefined);
    if (previous === undefined) return await listen(0);
    return await listen(previous).catch((err: unknown) => (inUse(err) ? listen(0) : Promise.reject(err)));
  } catch (err) {
    throw inUse(err) ? new Error(`port ${requested} (example endpoint) is already in use; pick another with --example-port`) : err;
  }
}
