/**
 * One "Lambda function instance" in its own process: imports a bundle built as `cdk deploy` builds
 * it and hands it one event at a time, received over IPC, as the Lambda runtime does. Usage (by
 * lib/local/lambda-processes.ts): `node --import tsx lambda-host.ts <bundle.mjs> <timeoutMs>`.
 */
import { pathToFileURL } from 'node:url';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;
export interface HostRequest {
  id: number;
  event: unknown;
}
export interface HostReply {
  id: number;
  result?: unknown;
  error?: string;
}

const [bundle, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg ?? 30_000);
const { handler } = (await import(pathToFileURL(bundle!).href)) as { handler: Handler };

const pending: HostRequest[] = [];
let busy = false;

async function next(): Promise<void> {
  if (busy) return;
  const req = pending.shift();
  if (!req) return;
  busy = true;
  const deadline = Date.now() + timeoutMs;
  const context = { awsRequestId: `local-${req.id}`, functionName: 'local', getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  let reply: HostReply;
  try {
    reply = { id: req.id, result: await handler(req.event, context) };
  } catch (err) {
    reply = { id: req.id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  process.send!(reply);
  busy = false;
  void next();
}

process.on('message', (req: HostRequest) => {
  pending.push(req);
  void next();
});
process.send!({ id: 0, result: 'ready' } satisfies HostReply);

// Stopped by the runner: exit normally, so exit hooks (a --cpu-prof profile) run.
process.once('SIGTERM', () => process.exit(0));
