/**
 * Health and reflection are served by Connect-ES, which answers a request message it cannot
 * parse with INTERNAL (HTTP 500 on Connect). Parsing is checked first, here, so that the
 * client's mistake gets INVALID_ARGUMENT like every other call of the ingress.
 */
import { fromBinary, fromJsonString, type DescMessage } from '@bufbuild/protobuf';
import { HealthCheckRequestSchema } from '../../gen/grpc/health/v1/health_pb.js';
import { ServerReflectionRequestSchema as ReflectionV1 } from '../../gen/grpc/reflection/v1/reflection_pb.js';
import { ServerReflectionRequestSchema as ReflectionV1alpha } from '../../gen/grpc/reflection/v1alpha/reflection_pb.js';
import { InvalidArgumentError } from '../errors.js';

const INPUTS = new Map<string, DescMessage>([
  ['/grpc.health.v1.Health/Check', HealthCheckRequestSchema],
  ['/grpc.health.v1.Health/Watch', HealthCheckRequestSchema],
  ['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', ReflectionV1],
  ['/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', ReflectionV1alpha],
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Throws InvalidArgumentError unless `payload` is a request message of the built-in method at `path`. */
export function checkBuiltinMessage(path: string, codec: 'json' | 'proto', payload: Uint8Array): void {
  const schema = INPUTS.get(path);
  if (!schema) return;
  try {
    if (codec === 'json') fromJsonString(schema, payload.length === 0 ? '{}' : utf8.decode(payload));
    else fromBinary(schema, payload);
  } catch (err) {
    throw new InvalidArgumentError(`the request is not a valid ${schema.typeName}: ${(err as Error).message}`);
  }
}
