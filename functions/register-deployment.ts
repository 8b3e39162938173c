/** Deploy-time registrar: onEvent of the custom resource `Restless.registerEndpoint` creates → the admin function. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ADMIN_FUNCTION_NAME_ENV, deploymentResourceHandler } from '../lib/deploy/register-deployment.js';
import { createLogger } from '../lib/log.js';

const adminFunctionName = process.env[ADMIN_FUNCTION_NAME_ENV];
if (!adminFunctionName) throw new Error(`${ADMIN_FUNCTION_NAME_ENV} is not set`);

export const handler = deploymentResourceHandler({ lambda: new LambdaClient({}), adminFunctionName, log: createLogger() });
