/**
 * Fails when the committed generated code under gen/ is stale: regenerates into a temporary
 * folder with the same buf configuration and compares file by file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
if (!existsSync(join(root, 'buf.gen.yaml'))) {
  console.log('no buf.gen.yaml: nothing generated to check');
  process.exit(0);
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const out = mkdtempSync(join(tmpdir(), 'restless-gen-'));
try {
  const template = readFileSync(join(root, 'buf.gen.yaml'), 'utf8');
  const genYaml = join(out, 'buf.gen.yaml');
  writeFileSync(genYaml, template.replaceAll(/out: (\S+)/g, (_m, dir: string) => `out: ${join(out, dir)}`));
  execFileSync(join(root, 'node_modules/.bin/buf'), ['generate', '--template', genYaml], { cwd: root, stdio: 'inherit' });
  const outDirs = [...template.matchAll(/out: (\S+)/g)].map((m) => m[1]!);
  const stale: string[] = [];
  for (const dir of new Set(outDirs)) {
    const fresh = walk(join(out, dir)).map((p) => relative(out, p));
    const committed = walk(join(root, dir)).map((p) => relative(root, p)).filter((p) => /\.(ts|js)$/.test(p) && fresh.length > 0);
    for (const f of new Set([...fresh, ...committed])) {
      const a = existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8') : '<missing>';
      const b = existsSync(join(root, f)) ? readFileSync(join(root, f), 'utf8') : '<missing>';
      if (a !== b) stale.push(f);
    }
  }
  if (stale.length > 0) {
    console.error(`generated code is stale; run 'npm run proto:generate' and commit:\n  ${stale.join('\n  ')}`);
    process.exit(1);
  }
  console.log('generated code is up to date');
} finally {
  rmSync(out, { recursive: true, force: true });
}
