/**
 * The seed's protobuf example: `org.example.Greeter/Greet`, unkeyed, bound with the SDK 0.8.1
 * `bindService` API. JSON `{"name": "Pete"}` → `{"greeting": "Hello Pete"}`.
 */
import * as restate from '@restatedev/restate-sdk';
import { protoMetadata, type Greeter, type GreetRequest, type GreetResponse } from './generated/greeter.js';

/** The fully qualified service name the endpoint registers. */
export const GREETER_SERVICE = 'org.example.Greeter';

export class GreeterService implements Greeter {
  async greet(request: GreetRequest): Promise<GreetResponse> {
    return { greeting: `Hello ${request.name}` };
  }
}

/** An endpoint serving `org.example.Greeter`; call `.lambdaHandler()` or `.listen(port)` on it. */
export function greeterEndpoint(): restate.RestateEndpoint {
  return restate.endpoint().bindService({ descriptor: protoMetadata, service: 'Greeter', instance: new GreeterService() });
}
