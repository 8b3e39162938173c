export * from './types.js';
export * from './descriptors.js';
export * from './discovery.js';
export * from './schema.js';
export * from './registration.js';
export * from './registry-store.js';
export * from './registry.js';
export * from './resolver.js';
