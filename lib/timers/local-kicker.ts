/**
 * The local runner's timer service: kicks run in process; wake-ups are kept as timer items in
 * DynamoDB (so a restart re-arms them) and fired with setTimeout.
 */
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Kicker } from '../driver/driver.js';
import type { Logger } from '../log.js';
import { keys, type TableClients } from '../store/table.js';
import type { TimerEvent } from './timer-event.js';

export class LocalKicker implements Kicker {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly tables: TableClients,
    /** Where due timers go; the local runner points it at the timer Lambda's handler. */
    public fire: (event: TimerEvent) => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  async kick(id: string): Promise<void> {
    setImmediate(() => void this.run({ kind: 'kick', invocationId: id }));
  }

  async schedule(id: string, atMs: number, reason: { epoch: number; kind: 'retry' | 'sleep' | 'deadline' }): Promise<void> {
    const name = `${id}|${reason.epoch}|${reason.kind}|${atMs}`;
    const event: TimerEvent = { kind: 'timer', invocationId: id, epoch: reason.epoch, reason: reason.kind, dueMs: atMs };
    await this.tables.doc.send(new PutCommand({ TableName: this.tables.tableName, Item: { ...keys.timer(name), event, dueMs: atMs } }));
    this.arm(name, event);
  }

  /** Re-arms every stored timer (after a restart). */
  async restore(): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.tables.doc.send(new ScanCommand({ TableName: this.tables.tableName, FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': 'tmr#' }, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        this.arm((item.pk as string).slice(4), item.event as TimerEvent);
        count++;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return count;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private arm(name: string, event: TimerEvent): void {
    if (this.stopped || this.timers.has(name) || event.kind !== 'timer') return;
    const delay = Math.max(0, event.dueMs - Date.now());
    const t = setTimeout(async () => {
      this.timers.delete(name);
      await this.run(event);
      await this.tables.doc.send(new DeleteCommand({ TableName: this.tables.tableName, Key: keys.timer(name) })).catch(() => undefined);
    }, delay);
    this.timers.set(name, t);
  }

  private async run(event: TimerEvent): Promise<void> {
    if (this.stopped) return;
    try {
      await this.fire(event);
    } catch (err) {
      this.log.log('error', 'timer delivery failed', { error: err, event });
    }
  }
}
