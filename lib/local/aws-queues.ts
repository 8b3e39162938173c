/**
 * Just enough SQS and EventBridge Scheduler, over HTTP, for the bundled functions to run their
 * own AWS clients (the AwsKicker) unchanged: SQS `SendMessage` (JSON protocol; the client sends to
 * the queue URL, which points here) and Scheduler `CreateSchedule` (`AWS_ENDPOINT_URL_SCHEDULER`).
 * Messages become visible after their `DelaySeconds` and are handed to a consumer in batches of
 * up to 10, like Lambda's event source mapping: records the consumer reports failed
 * (`batchItemFailures`) come back after the visibility timeout, and after `maxReceiveCount`
 * receives go to the dead letters. A schedule sends its input to the queue at its `at(…)` time
 * (the start of the minute it names; the real Scheduler fires somewhere within that minute).
 *
 * Nothing here decides anything about invocations: a lost message would cost latency only.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface QueuedMessage {
  messageId: string;
  body: string;
  visibleAtMs: number;
  receiveCount: number;
}

export interface SentMessage {
  body: string;
  delaySeconds: number;
  atMs: number;
}

export interface CreatedSchedule {
  name: string;
  expression: string;
  input: string;
  targetArn: string;
  deadLetterArn?: string;
}

/** What the consumer (the timer function) answers for a batch. */
export type BatchConsumer = (records: { messageId: string; body: string }[]) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

export interface AwsQueuesOptions {
  /** How long a received message stays hidden before it is handed out again. @default 1000 ms (SQS: the queue's visibility timeout) */
  visibilityTimeoutMs?: number;
  /** @default 5, as the construct's redrive policy */
  maxReceiveCount?: number;
  /** How often the queue is polled for visible messages. @default 50 ms */
  pollMs?: number;
}

const QUEUE_NAME = 'restless-timers';
const ACCOUNT = '000000000000';

export class AwsQueues {
  readonly sent: SentMessage[] = [];
  readonly schedules: CreatedSchedule[] = [];
  readonly deadLetters: QueuedMessage[] = [];
  /** Batches handed to the consumer, as lists of message bodies. */
  readonly batches: string[][] = [];
  private readonly queue: QueuedMessage[] = [];
  private readonly server: Server;
  private consumer: BatchConsumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private consuming = false;
  private port = 0;

  constructor(private readonly opts: AwsQueuesOptions = {}) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.timer = setInterval(() => void this.deliver(), this.opts.pollMs ?? 50);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get queueUrl(): string {
    return `${this.endpoint}/${ACCOUNT}/${QUEUE_NAME}`;
  }
  get queueArn(): string {
    return `arn:aws:sqs:us-east-1:${ACCOUNT}:${QUEUE_NAME}`;
  }
  get deadLetterQueueArn(): string {
    return `arn:aws:sqs:us-east-1:${ACCOUNT}:${QUEUE_NAME}-dead-letters`;
  }

  /** The timer function: one batch at a time, as one function instance takes one event at a time. */
  consume(consumer: BatchConsumer): void {
    this.consumer = consumer;
  }

  private enqueue(body: string, delaySeconds: number): void {
    this.queue.push({ messageId: randomUUID(), body, visibleAtMs: Date.now() + delaySeconds * 1000, receiveCount: 0 });
  }

  private async deliver(): Promise<void> {
    if (this.consuming || !this.consumer) return;
    const now = Date.now();
    const batch = this.queue.filter((m) => m.visibleAtMs <= now).slice(0, 10);
    if (batch.length === 0) return;
    this.consuming = true;
    for (const m of batch) {
      m.receiveCount++;
      m.visibleAtMs = now + (this.opts.visibilityTimeoutMs ?? 1000);
    }
    this.batches.push(batch.map((m) => m.body));
    let failed = new Set(batch.map((m) => m.messageId));
    try {
      const res = await this.consumer(batch.map(({ messageId, body }) => ({ messageId, body })));
      failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
    } catch {
      // The whole batch failed: every record comes back.
    } finally {
      for (const m of batch) {
        const i = this.queue.indexOf(m);
        if (!failed.has(m.messageId)) this.queue.splice(i, 1);
        else if (m.receiveCount >= (this.opts.maxReceiveCount ?? 5)) this.deadLetters.push(...this.queue.splice(i, 1));
      }
      this.consuming = false;
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    const target = req.headers['x-amz-target'];
    const reply = (status: number, json: unknown, contentType = 'application/json') => {
      res.writeHead(status, { 'content-type': contentType });
      res.end(JSON.stringify(json));
    };
    if (target === 'AmazonSQS.SendMessage') {
      const messageBody = String(body['MessageBody']);
      const delaySeconds = Number(body['DelaySeconds'] ?? 0);
      this.sent.push({ body: messageBody, delaySeconds, atMs: Date.now() });
      this.enqueue(messageBody, delaySeconds);
      // The client checks the digest of the body it sent.
      return reply(200, { MessageId: randomUUID(), MD5OfMessageBody: createHash('md5').update(messageBody).digest('hex') }, 'application/x-amz-json-1.0');
    }
    const schedule = /^\/schedules\/([^/?]+)/.exec(req.url ?? '');
    if (req.method === 'POST' && schedule) {
      const name = decodeURIComponent(schedule[1]!);
      if (this.schedules.some((s) => s.name === name)) return reply(409, { Message: `schedule ${name} exists` });
      const t = body['Target'] as { Arn: string; Input: string; DeadLetterConfig?: { Arn: string } };
      const expression = String(body['ScheduleExpression']);
      this.schedules.push({ name, expression, input: t.Input, targetArn: t.Arn, deadLetterArn: t.DeadLetterConfig?.Arn });
      const at = /^at\((.+)\)$/.exec(expression);
      const fireInMs = at ? Math.max(0, Date.parse(`${at[1]}Z`) - Date.now()) : 0;
      // A wake-up a year away never fires during a test; that is fine (the table holds it).
      if (fireInMs < 2 ** 31 - 1) setTimeout(() => this.enqueue(t.Input, 0), fireInMs).unref();
      return reply(200, { ScheduleArn: `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/${String(body['GroupName'])}/${name}` });
    }
    reply(400, { __type: 'UnknownOperation', message: `not emulated: ${req.method} ${req.url} ${String(target)}` });
  }
}
