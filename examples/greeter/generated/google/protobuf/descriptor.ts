// Hand-written, not generated (scripts/check-generated.ts knows this file): ts-proto 1.181 cannot
// generate buf's google/protobuf/descriptor.proto, so the generated ext.ts borrows the descriptor
// metadata the SDK ships. See buf.gen.examples.yaml.
export { protoMetadata } from '@restatedev/restate-sdk/dist/generated/google/protobuf/descriptor.js';
