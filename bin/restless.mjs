#!/usr/bin/env node
// The package's `bin`: runs bin/restless.ts through tsx (as `npm start` does), no build step.
import { register } from 'tsx/esm/api';

register();
await import('./restless.ts');
