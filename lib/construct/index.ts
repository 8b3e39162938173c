/** Public surface of the CDK side: the construct for your own app, and the stack `bin/app.ts` uses. */
export * from './restless.js';
export * from './stack.js';
export * from './context.js';
