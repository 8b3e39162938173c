/**
 * The target of a call, `/{service}/{method}`, as every ingress protocol spells it. A malformed
 * path is the client's mistake: 400 `invalid_argument` saying what is wrong, never a 500.
 */
import { InvalidArgumentError } from '../errors.js';
import { checkNameLength } from '../http/limits.js';

export interface TargetPath {
  serviceName: string;
  methodName: string;
}

/** Shows at most `max` characters of client input in a message. */
export function excerpt(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function parseTargetPath(path: string): TargetPath {
  const segments = path.split('/').slice(1);
  if (segments.length !== 2 || !segments[0] || !segments[1]) throw new InvalidArgumentError(`the path must be /{service}/{method}, got '${excerpt(path)}'`);
  const [serviceName, methodName] = segments.map(decodeSegment) as [string, string];
  checkNameLength('service name', serviceName);
  checkNameLength('method name', methodName);
  return { serviceName, methodName };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidArgumentError(`the path segment '${excerpt(segment)}' is not valid percent-encoded UTF-8`);
  }
}
