/** The Restate service protocol v1: framing, typed messages, builders and awakeable ids. */
export * from './framing.js';
export * from './messages.js';
export * from './awakeable-id.js';
export * as build from './builders.js';
