/**
 * Where the local runner serves the bundled example endpoint. Without `--example-port` it takes
 * the port of the example's last registration while that is free, else any free port: the same
 * address is the same deployment, so invocations pinned to it (a sleep in flight) finish after a
 * restart, where a new address would leave them retrying against a closed port. Earlier example
 * deployments that still have invocations pinned to them are served on their own ports as well
 * (`earlierExampleDeployments`), so a port that was taken at one start does not strand them.
 */
import { createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Logger } from '../log.js';

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
  return endpoint.status === 200 ? examplePortOf(uri) : undefined;
}

/** The example's port in a registered URI (`http://127.0.0.1:<port>`), or undefined. */
function examplePortOf(uri: unknown): number | undefined {
  if (typeof uri !== 'string') return undefined;
  try {
    const url = new URL(uri);
    const port = Number(url.port);
    return url.protocol === 'http:' && url.hostname === '127.0.0.1' && Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

export interface EarlierExampleDeployment {
  id: string;
  port: number;
  pinned: number;
}

/**
 * Example deployments (served at `http://127.0.0.1:<port>`, holding the example's services) with
 * invocations still pinned to them, other than the one at `currentPort`.
 */
export async function earlierExampleDeployments(get: AdminGet, currentPort: number): Promise<EarlierExampleDeployment[]> {
  const res = await get('/endpoints');
  if (res.status !== 200) return [];
  const endpoints = (res.json as { endpoints?: unknown } | undefined)?.endpoints;
  if (!Array.isArray(endpoints)) return [];
  const found: EarlierExampleDeployment[] = [];
  for (const e of endpoints as { id?: unknown; uri?: unknown; services?: { name?: unknown }[]; pinned_invocations?: unknown }[]) {
    const port = examplePortOf(e.uri);
    const isExample = Array.isArray(e.services) && e.services.some((s) => s.name === EXAMPLE_SERVICE);
    const pinned = typeof e.pinned_invocations === 'number' ? e.pinned_invocations : 0;
    if (port !== undefined && port !== currentPort && isExample && pinned > 0 && typeof e.id === 'string') found.push({ id: e.id, port, pinned });
  }
  return found;
}

/** Listens on 127.0.0.1:`port` (0: any free one); resolves with the port. */
function listenOn(h2: Http2Server, port: number): Promise<number> {
  return new Promise<number>((res, rej) => {
    const onError = (err: NodeJS.ErrnoException) => rej(err);
    h2.once('error', onError);
    h2.listen(port, '127.0.0.1', () => {
      h2.off('error', onError);
      const a = h2.address();
      res(typeof a === 'object' && a ? a.port : port);
    });
  });
}

/** The warning for an earlier example deployment whose port is taken, as a runner logs it. */
export function warnStranded(log: Logger): (earlier: EarlierExampleDeployment, err: unknown) => void {
  return (earlier, err) =>
    log.log('warn', 'an earlier deployment of the example endpoint cannot be served: its port is in use', {
      deployment: earlier.id,
      port: earlier.port,
      pinnedInvocations: earlier.pinned,
      hint: 'they finish once the port is free at a later start; or kill them (DELETE /invocations/{id})',
      error: (err as Error).message,
    });
}

/**
 * Serves each earlier example deployment with pinned invocations (`earlierExampleDeployments`) on
 * its own port, with the same handler; a port in use is reported through `warn` (its invocations
 * then wait for a later start). Returns the servers, for the runner to close.
 */
export async function serveEarlierExampleDeployments(
  handler: (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  currentPort: number,
  get: AdminGet,
  warn: (earlier: EarlierExampleDeployment, err: unknown) => void,
): Promise<Http2Server[]> {
  const servers: Http2Server[] = [];
  for (const earlier of await earlierExampleDeployments(get, currentPort).catch(() => [])) {
    const server = createServer(handler);
    try {
      await listenOn(server, earlier.port);
      servers.push(server);
    } catch (err) {
      warn(earlier, err);
    }
  }
  return servers;
}

/**
 * Listens on 127.0.0.1: on `requested`, or (0) on the previous example port while free, else any
 * free port. A requested port in use is an error that names it.
 */
export async function listenExample(h2: Http2Server, requested: number, get: AdminGet): Promise<number> {
  const listen = (port: number) => listenOn(h2, port);
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
