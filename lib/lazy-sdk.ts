/**
 * AWS SDK clients that not every event needs, loaded on first use. A function's module init (its
 * cold start) then loads only DynamoDB's: the Lambda and STS clients serve endpoints registered by
 * ARN (about 60 ms of init), SQS and Scheduler serve kicks and timers (about 30 ms), which a plain
 * call never makes. Each package is imported once per process. A failed import is not kept here,
 * but Node keeps a module whose evaluation threw: only a package that was not found is looked for
 * again at the next use.
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
