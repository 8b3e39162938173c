/**
 * DynamoDB Local's data file in write-ahead-log mode: a new data folder starts in WAL mode, an
 * existing rollback-mode file is switched on the next start, and the data survives both.
 */
import { mkdtempSync, readFileSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import { createTableClients, ensureTable } from '../../lib/store/table.js';
import { emptyWalDatabase, ensureWalMode, SHARED_DB_FILE } from '../../lib/local/sqlite-wal.js';

const dirs: string[] = [];
const folder = () => {
  const d = mkdtempSync(join(tmpdir(), 'restless-wal-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const versions = (file: string) => [...readFileSync(file).subarray(18, 20)];

async function withDb<T>(
  dataDir: string,
  wal: boolean,
  f: (db: DynamoDbLocal, put: (id: string) => Promise<void>, get: (id: string) => Promise<unknown>) => Promise<T>,
) {
  const before = process.env.RESTLESS_DYNAMODB_WAL;
  process.env.RESTLESS_DYNAMODB_WAL = wal ? '1' : '0';
  const db = await startDynamoDbLocal({ dataDir });
  if (before === undefined) delete process.env.RESTLESS_DYNAMODB_WAL;
  else process.env.RESTLESS_DYNAMODB_WAL = before;
  try {
    const t = createTableClients('wal-test', { endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await ensureTable(t.client, 'wal-test');
    const put = async (id: string) => void (await t.doc.send(new PutCommand({ TableName: 'wal-test', Item: { pk: `inv#${id}`, sk: 'meta', v: id } })));
    const get = async (id: string) =>
      (await t.doc.send(new GetCommand({ TableName: 'wal-test', Key: { pk: `inv#${id}`, sk: 'meta' }, ConsistentRead: true }))).Item?.v;
    return await f(db, put, get);
  } finally {
    await db.stop();
  }
}

describe('DynamoDB Local data file in WAL mode', () => {
  it('a new data folder starts in WAL mode and keeps its data across a restart', async () => {
    const dir = folder();
    const file = join(dir, SHARED_DB_FILE);
    await withDb(dir, true, async (_db, put) => {
      await put('a');
      expect(existsSync(`${file}-wal`)).toBe(true);
    });
    expect(versions(file)).toEqual([2, 2]);
    await withDb(dir, true, async (_db, put, get) => {
      expect(await get('a')).toBe('a');
      await put('b');
    });
    await withDb(dir, true, async (_db, _put, get) => expect([await get('a'), await get('b')]).toEqual(['a', 'b']));
  }, 90_000);

  it('switches a rollback-journal file written before, without losing its items', async () => {
    const dir = folder();
    const file = join(dir, SHARED_DB_FILE);
    await withDb(dir, false, async (_db, put) => put('old'));
    // DynamoDB Local's own default: a rollback journal.
    expect(versions(file)).toEqual([1, 1]);
    await withDb(dir, true, async (_db, put, get) => {
      expect(await get('old')).toBe('old');
      await put('new');
    });
    expect(versions(file)).toEqual([2, 2]);
    await withDb(dir, true, async (_db, _put, get) => expect([await get('old'), await get('new')]).toEqual(['old', 'new']));
  }, 90_000);

  it('keeps every acknowledged write when DynamoDB Local is killed mid-stream (SIGKILL)', async () => {
    const dir = folder();
    const acknowledged: string[] = [];
    await withDb(dir, true, async (db, put) => {
      let n = 0;
      const writer = async () => {
        for (;;) {
          const id = `k${n++}`;
          try {
            await put(id);
          } catch {
            return;
          }
          acknowledged.push(id);
        }
      };
      const writers = Array.from({ length: 8 }, writer);
      await new Promise((r) => setTimeout(r, 1500));
      process.kill(db.pid!, 'SIGKILL');
      await Promise.all(writers);
    });
    expect(acknowledged.length).toBeGreaterThan(20);
    await withDb(dir, true, async (_db, _put, get) => {
      const missing: string[] = [];
      for (const id of acknowledged) if ((await get(id)) !== id) missing.push(id);
      expect(missing).toEqual([]);
    });
  }, 90_000);

  it('leaves alone a file that is not SQLite, or one with an interrupted write to roll back', () => {
    const dir = folder();
    const other = join(dir, 'other.db');
    writeFileSync(other, 'not a database at all, and longer than one hundred bytes '.repeat(4));
    const before = readFileSync(other);
    expect(ensureWalMode(other)).toBe('skipped');
    expect(readFileSync(other).equals(before)).toBe(true);

    const hot = join(dir, 'hot.db');
    const rollback = emptyWalDatabase();
    rollback[18] = 1;
    rollback[19] = 1;
    writeFileSync(hot, rollback);
    writeFileSync(`${hot}-journal`, 'pending');
    expect(ensureWalMode(hot)).toBe('skipped');
    expect(versions(hot)).toEqual([1, 1]);
    rmSync(`${hot}-journal`);
    expect(ensureWalMode(hot)).toBe('converted');
    expect(ensureWalMode(hot)).toBe('already');
    expect(versions(hot)).toEqual([2, 2]);
  });
});
