/** Deploy-time registrar: onEvent of the custom resource `Restless.registerEndpoint` creates → the admin function. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ADMIN_FUNCTION_NAME_ENV, deploymentResourceHandler } from '../lib/deploy/register-deployment.js';
import { createLogger, flushLogs } from '../lib/log.js';

const adminFunctionName = process.env[ADMIN_FUNCTION_NAME_ENV];
if (!adminFunctionName) throw new Error(`${ADMIN_FUNCTION_NAME_ENV} is not set`);

const onEvent = deploymentResourceHandler({ lambda: new LambdaClient({}), adminFunctionName, log: createLogger() });

/** The log lines of an event are written before the handler returns (the sandbox may freeze next). */
export const handler: typeof onEvent = async (...args) => {
  try {
    return await onEvent(...args);
  } finally {
    flushLogs();
  }
};
