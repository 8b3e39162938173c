export * from './types.js';
export * from './admin-api.js';
export * from './deployments.js';
export { OPENAPI_DOCUMENT } from './openapi.js';
