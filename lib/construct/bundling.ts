/** Where the function code comes from and how it is bundled (shared by every NodejsFunction of the construct). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The package root (holds `functions/` and `package-lock.json`), found from this file. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How every function is bundled (NodejsFunction passes these to the local esbuild). */
export const FUNCTION_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node22',
  platform: 'node',
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // The Lambda runtime ships SDK v3; bundling our own would add ~1 MB per function.
  externalModules: ['@aws-sdk/*'],
  // CommonJS dependencies bundled into ESM still call `require` for Node built-ins.
  banner: "import { createRequire as __restlessCreateRequire } from 'node:module'; const require = __restlessCreateRequire(import.meta.url);",
  loader: { '.binpb': 'binary' },
  forceDockerBundling: false,
};

/** The package's lock file, when there is one (NodejsFunction needs it to find the project). */
export function lockFile(): string | undefined {
  const path = fileURLToPath(new URL('../../package-lock.json', import.meta.url));
  return existsSync(path) ? path : undefined;
}
