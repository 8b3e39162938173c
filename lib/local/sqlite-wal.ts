/**
 * DynamoDB Local keeps its data in one SQLite file and never picks a journal mode, so SQLite's
 * default applies: a rollback journal created, synced and deleted for every write (about three
 * syncs per DynamoDB write). Write-ahead logging needs one sync per write, and SQLite reads the
 * mode from the file header, where `PRAGMA journal_mode=WAL` would persist it: bytes 18 and 19
 * (the file format's write and read versions) set to 2. This module sets them while no process
 * has the file open. Durability is the same (every commit is still synced); only the number of
 * syncs changes.
 */
import { closeSync, existsSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';

/** The file DynamoDB Local uses with `-sharedDb`. */
export const SHARED_DB_FILE = 'shared-local-instance.db';

const MAGIC = Buffer.from('SQLite format 3\u0000', 'latin1');
const PAGE_SIZE = 4096;
const VERSION_OFFSET = 18;
const ROLLBACK = 1;
const WAL = 2;

export type WalOutcome = 'created' | 'converted' | 'already' | 'skipped';

/**
 * Makes `file` a SQLite database in WAL mode: a new empty one when absent, the header switched
 * when it is in rollback mode. Left alone (`skipped`) when it is not a SQLite file, or when a
 * rollback journal beside it holds an interrupted write (SQLite must roll that back first; the
 * next start converts it).
 */
export function ensureWalMode(file: string): WalOutcome {
  if (!existsSync(file)) {
    writeFileSync(file, emptyWalDatabase(), { flag: 'wx' });
    return 'created';
  }
  if (existsSync(`${file}-journal`)) return 'skipped';
  const fd = openSync(file, 'r+');
  try {
    const header = Buffer.alloc(100);
    if (readSync(fd, header, 0, header.length, 0) < header.length || !header.subarray(0, MAGIC.length).equals(MAGIC)) return 'skipped';
    const write = header[VERSION_OFFSET];
    const read = header[VERSION_OFFSET + 1];
    if (write === WAL && read === WAL) return 'already';
    if (write !== ROLLBACK || read !== ROLLBACK) return 'skipped';
    writeSync(fd, Buffer.from([WAL, WAL]), 0, 2, VERSION_OFFSET);
    return 'converted';
  } finally {
    closeSync(fd);
  }
}

/** One page: the database header (WAL mode, UTF-8 decided on first use) and an empty schema table. */
export function emptyWalDatabase(): Buffer {
  const page = Buffer.alloc(PAGE_SIZE);
  MAGIC.copy(page, 0);
  page.writeUInt16BE(PAGE_SIZE, 16);
  page[18] = WAL;
  page[19] = WAL;
  page[20] = 0; // reserved bytes per page
  page[21] = 64; // maximum embedded payload fraction (fixed by the format)
  page[22] = 32; // minimum embedded payload fraction (fixed)
  page[23] = 32; // leaf payload fraction (fixed)
  page.writeUInt32BE(1, 24); // file change counter
  page.writeUInt32BE(1, 28); // size in pages
  page.writeUInt32BE(1, 92); // version-valid-for: equals the change counter
  page.writeUInt32BE(3_008_007, 96); // SQLite version that wrote the file (informational)
  // Page 1's b-tree header (after the 100-byte file header): an empty table leaf.
  page[100] = 0x0d;
  page.writeUInt16BE(0, 101); // first freeblock
  page.writeUInt16BE(0, 103); // cells
  page.writeUInt16BE(PAGE_SIZE, 105); // start of the cell content area
  page[107] = 0; // fragmented free bytes
  return page;
}
