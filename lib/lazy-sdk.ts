/**
 * AWS SDK clients that not every event needs, loaded on first use. A function's module init (its
 * cold start) then loads only DynamoDB's: the Lambda and STS clients serve endpoints registered by
 * ARN (about 60 ms of init), SQS and Scheduler serve kicks and timers (about 30 ms), which a plain
 * call never makes. Each package is imported once per process; a failed import is tried again.
 */
function lazyModule<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw err;
    }));
}

export const lambdaSdk = lazyModule(() => import('@aws-sdk/client-lambda'));
export const stsSdk = lazyModule(() => import('@aws-sdk/client-sts'));
export const sqsSdk = lazyModule(() => import('@aws-sdk/client-sqs'));
export const schedulerSdk = lazyModule(() => import('@aws-sdk/client-scheduler'));
