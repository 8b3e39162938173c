export * from './types.js';
export * from './errors.js';
export * from './h2c.js';
export * from './lambda.js';
export * from './transport.js';
