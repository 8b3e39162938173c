/**
 * Serves an example endpoint over h2c (plaintext HTTP/2, as SDK `listen()` does), for manual
 * tests:
 *
 *   npx tsx examples/serve.ts 9080 services   # greeter, counter, sleeper (routers)
 *   npx tsx examples/serve.ts 9081 greeter    # org.example.Greeter (protobuf)
 *
 * Talk to it with `curl --http2-prior-knowledge`; HTTP/1.1 gets no answer.
 */
import type { RestateEndpoint } from '@restatedev/restate-sdk';
import { greeterEndpoint } from './greeter/greeter.js';
import { servicesEndpoint } from './services.js';

const ENDPOINTS: Record<string, () => RestateEndpoint> = {
  greeter: greeterEndpoint,
  services: servicesEndpoint,
};

const [portArg, which = 'services'] = process.argv.slice(2);
const port = Number(portArg ?? 9080);
const build = ENDPOINTS[which];
if (!Number.isInteger(port) || port <= 0 || port > 65535 || build === undefined) {
  console.error(`usage: npx tsx examples/serve.ts <port> [${Object.keys(ENDPOINTS).join('|')}]`);
  process.exit(2);
}
console.log(`serving ${which} on h2c port ${port}`);
void build().listen(port);
