/**
 * DynamoDB Local as a child process of the harness (in its own process group with its JVM), so
 * that killing the group leaves nothing behind, whatever happens to the harness.
 */
import { startDynamoDbLocal } from '../../lib/local/dynamodb-local.js';

const ddb = await startDynamoDbLocal();
process.stdout.write(`${JSON.stringify({ msg: 'dynamodb ready', endpoint: ddb.endpoint })}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void ddb.stop().then(() => process.exit(0)));
