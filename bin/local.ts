/**
 * `npm start`: runs Restless locally. Ingress on :8080, admin on :9070, DynamoDB Local with its
 * data under .restless/, and the example endpoint registered, so the README's curl answers at once.
 * With --dynamo-endpoint and ports 0, several runners share one table (the chaos suite does).
 */
import { parseArgs } from 'node:util';
import { ENV } from '../lib/config.js';
import { JavaMissingError } from '../lib/local/dynamodb-local.js';
import { startLocal } from '../lib/local/runner.js';
import { serverTimeoutsFrom, type ServerTimeouts } from '../lib/local/server-timeouts.js';

// The AWS SDK warns on Node 20 that its releases after January 2027 will need Node 22. This
// package pins its SDK version, so the notice says nothing to someone running it locally.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const HELP = `Usage: npm start -- [options]
  --ingress-port <n>   ingress port: Connect and gRPC-web over HTTP/1.1, native gRPC + reflection over h2c (default 8080, env RESTLESS_INGRESS_PORT; 0 = any free port)
  --admin-port <n>     admin API port                             (default 9070, env RESTLESS_ADMIN_PORT; 0 = any free port)
  --data-dir <dir>     where DynamoDB Local keeps its data        (default .restless, env RESTLESS_DATA_DIR)
  --in-memory          DynamoDB Local keeps everything in memory: faster, and nothing survives a restart
  --dynamo-port <n>    DynamoDB Local port                        (default: any free port)
  --dynamo-endpoint <url>  use this DynamoDB (Local or AWS) instead of starting DynamoDB Local; the table is created if missing,
                       and what this runner did not start it never stops (env RESTLESS_DYNAMO_ENDPOINT)
  --table <name>       DynamoDB table                             (default restless, env RESTLESS_TABLE_NAME)
  --sweep-interval-ms <n>  how often lapsed leases are swept      (default 60000)
  --example-port <n>   port of the bundled example endpoint       (default: the last run's port if free, else any free port;
                       9080, the SDK's default port, stays free for your own endpoint)
  --no-example         do not start the example endpoint
  --register <uri>     register this endpoint at start-up (repeatable)
  --host <ip>          interface to listen on                     (default 127.0.0.1)
  --lambda-processes   run the bundled ingress, admin and timer functions as on AWS: built with the construct's
                       bundling options, one process each taking one event at a time, timers through an SQS/Scheduler
                       stand-in (no native gRPC or reflection, as behind API Gateway)

Slow and idle clients (both ports; milliseconds):
  --headers-timeout-ms <n>     request headers must arrive within this  (default 20000, env RESTLESS_HEADERS_TIMEOUT_MS)
  --request-timeout-ms <n>     the whole request must arrive within this (default 60000, env RESTLESS_REQUEST_TIMEOUT_MS)
  --keep-alive-timeout-ms <n>  idle HTTP/1.1 keep-alive connections closed after this (default 65000, env RESTLESS_KEEP_ALIVE_TIMEOUT_MS)
  --h2-idle-timeout-ms <n>     HTTP/2 sessions without open streams closed after this (default 65000, env RESTLESS_H2_IDLE_TIMEOUT_MS)

Endpoint registration:
  --discovery-timeout-ms <n>   discovery of a new endpoint gives up after this (default 10000, env RESTLESS_DISCOVERY_TIMEOUT_MS)
  --allow-link-local-endpoints allow endpoints at link-local / instance-metadata addresses (169.254.0.0/16, fe80::/10,
                               fd00:ec2::254); refused by default (env RESTLESS_ALLOW_LINK_LOCAL_ENDPOINTS=true)

Request bodies are limited to 1 MiB on the ingress (also after decompression) and 64 KiB on the admin API.
Configuration of the runtime (retries, timeouts, idempotency) comes from the RESTLESS_* variables; see README.
Fault injection (tests only): RESTLESS_FAULTS='{"seed":7,"forMs":5000,"dynamo":{"failBefore":0.02},"timers":{"drop":0.1},"kicks":{"delay":0.1}}'
(fields: lib/local/faults.ts); SIGUSR2 switches the faults off.`;

const { values } = parseArgs({
  options: {
    'ingress-port': { type: 'string' },
    'admin-port': { type: 'string' },
    'data-dir': { type: 'string' },
    'in-memory': { type: 'boolean' },
    'dynamo-port': { type: 'string' },
    'dynamo-endpoint': { type: 'string' },
    table: { type: 'string' },
    'sweep-interval-ms': { type: 'string' },
    'example-port': { type: 'string' },
    'no-example': { type: 'boolean' },
    register: { type: 'string', multiple: true },
    host: { type: 'string' },
    'headers-timeout-ms': { type: 'string' },
    'request-timeout-ms': { type: 'string' },
    'keep-alive-timeout-ms': { type: 'string' },
    'h2-idle-timeout-ms': { type: 'string' },
    'discovery-timeout-ms': { type: 'string' },
    'allow-link-local-endpoints': { type: 'boolean' },
    'lambda-processes': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function positive(flag: string | undefined, name: string, fallback: number): number {
  if (flag === undefined) return fallback;
  const n = Number(flag);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`invalid ${name} '${flag}': expected a whole number above 0\n\n${HELP}`);
    process.exit(2);
  }
  return n;
}

function port(flag: string | undefined, env: string | undefined, fallback: number): number {
  const raw = flag ?? env;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`invalid port '${raw}'\n\n${HELP}`);
    process.exit(2);
  }
  return n;
}

function timeouts(): ServerTimeouts {
  try {
    return serverTimeoutsFrom({
      headersMs: values['headers-timeout-ms'],
      requestMs: values['request-timeout-ms'],
      keepAliveMs: values['keep-alive-timeout-ms'],
      h2IdleMs: values['h2-idle-timeout-ms'],
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
}

// The handlers read their configuration from the environment, as on Lambda: flags become variables.
if (values['discovery-timeout-ms'] !== undefined) {
  const n = Number(values['discovery-timeout-ms']);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`invalid --discovery-timeout-ms '${values['discovery-timeout-ms']}'\n\n${HELP}`);
    process.exit(2);
  }
  process.env[ENV.discoveryTimeoutMs] = String(n);
}
if (values['allow-link-local-endpoints']) process.env[ENV.allowLinkLocalEndpoints] = 'true';

try {
  const common = {
    ingressPort: port(values['ingress-port'], process.env.RESTLESS_INGRESS_PORT, 8080),
    adminPort: port(values['admin-port'], process.env.RESTLESS_ADMIN_PORT, 9070),
    dataDir: values['in-memory'] ? undefined : (values['data-dir'] ?? process.env.RESTLESS_DATA_DIR ?? '.restless'),
    dynamoEndpoint: values['dynamo-endpoint'] ?? (process.env.RESTLESS_DYNAMO_ENDPOINT || undefined),
    tableName: values.table ?? (process.env.RESTLESS_TABLE_NAME || 'restless'),
    sweepIntervalMs: positive(values['sweep-interval-ms'], '--sweep-interval-ms', 60_000),
    examplePort: values['no-example'] ? -1 : port(values['example-port'], undefined, 0),
    register: values.register ?? [],
    host: values.host ?? '127.0.0.1',
  };
  const runner = values['lambda-processes']
    ? // Loaded only for this mode: it brings the CDK construct and esbuild, seconds of start-up.
      await (await import('../lib/local/lambda-processes.js')).startLambdaProcessesRunner(common)
    : await startLocal({ ...common, timeouts: timeouts(), dynamoPort: port(values['dynamo-port'], undefined, 0) });
  console.log(`Restless is running.
  ingress  ${runner.ingressUrl}
  admin    ${runner.adminUrl}
  dynamodb ${runner.dynamoEndpoint}${common.dataDir === undefined && !common.dynamoEndpoint ? ' (in memory: nothing survives a restart)' : ''}
  table    ${runner.tableName}
${
  common.examplePort === -1
    ? `
Register your endpoint:
  curl -X POST ${runner.adminUrl}/endpoints -H 'content-type: application/json' -d '{"uri": "http://localhost:9081"}'
`
    : `
Try:
  curl -X POST ${runner.ingressUrl}/org.example.Greeter/Greet -H 'content-type: application/json' -d '{"name": "Pete"}'
`
}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping…');
    await runner.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Without its database every request would fail: say why and stop, rather than answer 500s.
  void runner.failed?.then(async (reason) => {
    // Ctrl-C signals the whole process group: the JVM may go first, our SIGINT handler right after.
    await new Promise((r) => setTimeout(r, 250));
    if (stopping) return;
    stopping = true;
    console.error(`Restless stopped: ${reason}. Start it again with the same command; stored invocations carry on.`);
    await runner.stop().catch(() => undefined);
    process.exit(1);
  });
} catch (err) {
  if (err instanceof JavaMissingError) console.error(err.message);
  else console.error(`Restless could not start: ${(err as Error).message}`);
  process.exit(1);
}
