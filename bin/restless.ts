/**
 * `npx restless …`: the operator CLI (lib/cli/program.ts). Credentials for SigV4 come from the
 * AWS SDK's standard chain, loaded only when a command signs.
 */
import { runCli } from '../lib/cli/program.js';

const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  awsCredentials: async () => {
    const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
    return defaultProvider()();
  },
});
process.exitCode = code;
