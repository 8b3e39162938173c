/** The console's three static files, as admin API responses (no build server, no file reads). */
import type { HttpResponse } from '../../http/types.js';
import { CONSOLE_CSS, CONSOLE_HTML } from './page.js';
import { CONSOLE_JS } from './script.js';

const encoder = new TextEncoder();

const FILES: Record<string, { type: string; body: Uint8Array }> = {
  '': { type: 'text/html; charset=utf-8', body: encoder.encode(CONSOLE_HTML) },
  'console.js': { type: 'text/javascript; charset=utf-8', body: encoder.encode(CONSOLE_JS) },
  'console.css': { type: 'text/css; charset=utf-8', body: encoder.encode(CONSOLE_CSS) },
};

/** Only our own files and our own API: no inline script, no framing by other sites. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/** `/ui` (the page) and `/ui/{file}`; undefined for anything else. `/ui/` redirects: the page uses relative URLs. */
export function consoleResponse(path: string): HttpResponse | undefined {
  if (path === '/ui/') return { status: 308, headers: { location: '../ui' }, body: new Uint8Array() };
  const m = /^\/ui(?:\/([a-z.]+))?$/.exec(path);
  if (!m) return undefined;
  const file = FILES[m[1] ?? ''];
  if (!file) return undefined;
  return { status: 200, headers: { 'content-type': file.type, ...SECURITY_HEADERS }, body: file.body };
}
