/**
 * The endpoint the local runner starts: the seed's protobuf `org.example.Greeter` plus the
 * router examples (`greeter`, keyed `counter`, `sleeper`).
 */
import type * as restate from '@restatedev/restate-sdk';
import { greeterEndpoint } from './greeter/greeter.js';
import { counterRouter, greeterRouter, sleeperRouter } from './services.js';

export function exampleEndpoint(): restate.RestateEndpoint {
  return greeterEndpoint().bindRouter('greeter', greeterRouter).bindKeyedRouter('counter', counterRouter).bindRouter('sleeper', sleeperRouter);
}
