/**
 * AWS credentials as the SDK's clients take them, and the one cache both of our own providers use
 * (the lean DynamoDB client's, an endpoint's assumed role): one fetch at a time, the answer kept
 * until shortly before it expires.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type CredentialsProvider = () => Promise<Credentials>;

/** Temporary credentials are renewed this long before they expire (a call must not start on credentials about to lapse). */
export const CREDENTIALS_REFRESH_MARGIN_MS = 5 * 60_000;

/** `fetch` behind a cache: concurrent callers share one fetch; a failed fetch is tried again by the next caller. */
export function refreshingCredentials(fetch: CredentialsProvider, now: () => number = Date.now): CredentialsProvider {
  let current: Credentials | undefined;
  let pending: Promise<Credentials> | undefined;
  const fresh = (c: Credentials | undefined): c is Credentials =>
    c !== undefined && (c.expiration === undefined || c.expiration.getTime() - CREDENTIALS_REFRESH_MARGIN_MS > now());
  return async () => {
    if (fresh(current)) return current;
    pending ??= fetch().finally(() => (pending = undefined));
    current = await pending;
    return current;
  };
}
