/**
 * Section 3: the three Lambda bundles, built with esbuild as the CDK construct builds them
 * (lib/construct/restless.ts, `bundling`; NodejsFunction passes these as esbuild CLI flags), their
 * minified size, and module init time: `await import(bundle)` in a fresh `node`, as a cold
 * Lambda does before the first event.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { median } from './format.js';

export const ROLES = ['ingress', 'admin', 'timer'] as const;
export type Role = (typeof ROLES)[number];

/** The construct's `bundling` block, as esbuild options (keep in step with lib/construct/restless.ts). */
export const CONSTRUCT_BUNDLING = {
  bundle: true,
  format: 'esm',
  target: 'node22',
  platform: 'node',
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  external: ['@aws-sdk/*'],
  banner: { js: "import { createRequire as __restlessCreateRequire } from 'node:module'; const require = __restlessCreateRequire(import.meta.url);" },
  loader: { '.binpb': 'binary' },
} as const satisfies BuildOptions;

/**
 * Checks that the construct still says what CONSTRUCT_BUNDLING assumes; returns what differs.
 * A textual check: enough to notice an edit, not a parser.
 */
export function bundlingDrift(root: string): string[] {
  const src = readFileSync(join(root, 'lib/construct/restless.ts'), 'utf8');
  const expect: [string, RegExp][] = [
    ['format ESM', /format:\s*OutputFormat\.ESM/],
    ["target 'node22'", /target:\s*'node22'/],
    ["platform 'node'", /platform:\s*'node'/],
    ['mainFields module,main', /mainFields:\s*\['module',\s*'main'\]/],
    ['minify', /minify:\s*true/],
    ['sourceMap', /sourceMap:\s*true/],
    ['sourcesContent false', /sourcesContent:\s*false/],
    ["externalModules ['@aws-sdk/*']", /externalModules:\s*\['@aws-sdk\/\*'\]/],
    ['banner (createRequire)', /banner:\s*"import \{ createRequire as __restlessCreateRequire \} from 'node:module'; const require = __restlessCreateRequire\(import\.meta\.url\);"/],
    [".binpb loader 'binary'", /loader:\s*\{\s*'\.binpb':\s*'binary'\s*\}/],
  ];
  return expect.filter(([, re]) => !re.test(src)).map(([what]) => what);
}

export interface BundleResult {
  role: Role;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  /** Largest contributors to the output: package or folder → bytes. */
  top: [string, number][];
  initMs: number[];
  wallMs: number[];
  initError?: string;
}

/** Dummy configuration: enough for module-scope code (sharedRuntime with AWS timers) to run. */
export const LAMBDA_ENV = {
  RESTLESS_TABLE_NAME: 'restless-bench',
  AWS_REGION: 'us-east-1',
  RESTLESS_TIMER_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:restless-timer',
  RESTLESS_SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/restless-scheduler',
  RESTLESS_SCHEDULER_GROUP: 'restless-bench',
  // Node 20 here; Lambda runs Node 22, where the AWS SDK prints no version warning.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

function contributor(path: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (m) return m[1]!;
  return path.split('/').slice(0, 2).join('/');
}

function topInputs(meta: Metafile, outfile: string, root: string): [string, number][] {
  const out = Object.entries(meta.outputs).find(([p]) => join(root, p) === outfile || p === relative(root, outfile));
  const sums = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(out?.[1].inputs ?? {})) {
    const k = contributor(path);
    sums.set(k, (sums.get(k) ?? 0) + bytesInOutput);
  }
  return [...sums].sort((a, b) => b[1] - a[1]).slice(0, 5);
}

/**
 * One `await import()` of each specifier, in a fresh node with only the Lambda-like environment
 * and `cwd` for resolving bare specifiers.
 */
function timeImport(specifiers: string[], cwd: string): { importMs: number; wallMs: number; error?: string } {
  const code = 'const t = performance.now(); for (const s of process.argv.slice(1)) await import(s); process.stdout.write(JSON.stringify({ ms: performance.now() - t }));';
  const started = performance.now();
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', code, ...specifiers], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...LAMBDA_ENV },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const wallMs = performance.now() - started;
  if (res.status !== 0) return { importMs: NaN, wallMs, error: (res.stderr || res.stdout || String(res.error)).trim().split('\n').slice(0, 3).join(' | ') };
  try {
    return { importMs: (JSON.parse(res.stdout) as { ms: number }).ms, wallMs };
  } catch {
    return { importMs: NaN, wallMs, error: `unexpected output: ${res.stdout.slice(0, 200)}` };
  }
}

function timeRuns(specifiers: string[], cwd: string, runs: number): Pick<BundleResult, 'initMs' | 'wallMs' | 'initError'> {
  const initMs: number[] = [];
  const wallMs: number[] = [];
  // One untimed run first, so every timed run finds the files in the page cache.
  const warm = timeImport(specifiers, cwd);
  if (warm.error) return { initMs, wallMs, initError: warm.error };
  for (let i = 0; i < runs; i++) {
    const t = timeImport(specifiers, cwd);
    if (t.error) return { initMs, wallMs, initError: t.error };
    initMs.push(t.importMs);
    wallMs.push(t.wallMs);
  }
  return { initMs, wallMs };
}

/** The external packages a bundle imports (`from"@aws-sdk/…"` in the minified output). */
function externalImports(code: string): string[] {
  return [...new Set([...code.matchAll(/from\s*"(@aws-sdk\/[^"]+)"/g)].map((m) => m[1]!))].sort();
}

export interface SdkBaseline {
  packages: string[];
  initMs: number[];
  initError?: string;
}

/** Init time of the external @aws-sdk/* packages alone: the part a bundle cannot shrink. */
export function measureSdkBaseline(root: string, packages: string[], runs: number): SdkBaseline {
  const t = timeRuns(packages, join(root, 'bench'), runs);
  return { packages, initMs: t.initMs, initError: t.initError };
}

export async function measureBundles(root: string, outDir: string, runs: number): Promise<{ bundles: BundleResult[]; externals: string[] }> {
  const results: BundleResult[] = [];
  const externals = new Set<string>();
  for (const role of ROLES) {
    const dir = join(outDir, role);
    mkdirSync(dir, { recursive: true });
    // NodejsFunction writes index.mjs for ESM and runs esbuild from the project root.
    const outfile = join(dir, 'index.mjs');
    const built = await build({ ...CONSTRUCT_BUNDLING, entryPoints: [join(root, 'functions', `${role}.ts`)], outfile, absWorkingDir: root, metafile: true, logLevel: 'warning' });
    const code = readFileSync(outfile);
    for (const e of externalImports(code.toString('utf8'))) externals.add(e);
    const timed = timeRuns([pathToFileURL(outfile).href], dir, runs);
    results.push({ role, bytes: code.length, gzipBytes: gzipSync(code).length, mapBytes: statSync(`${outfile}.map`).size, top: topInputs(built.metafile, outfile, root), ...timed });
  }
  return { bundles: results, externals: [...externals].sort() };
}

export function medianOf(values: number[]): number {
  return values.length ? median(values) : NaN;
}
