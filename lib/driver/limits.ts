/** Limits of what the runtime accepts, shared by the ingress and the driver. */
import { Code, RestlessError } from '../errors.js';

/**
 * An invocation (input, journal, unkeyed state) lives in one DynamoDB item of at most 400 KB;
 * inputs above this leave room for the journal and are refused up front with a clear error.
 */
export const MAX_INPUT_BYTES = 256 * 1024;

export function checkInputSize(bytes: number): void {
  if (bytes > MAX_INPUT_BYTES) {
    throw new RestlessError(Code.ResourceExhausted, `the request is ${bytes} bytes; at most ${MAX_INPUT_BYTES} bytes are accepted`, { httpStatus: 413 });
  }
}
