import { randomBytes } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { PublishSummary } from '../../ports/federation.ts';
import type { FreshnessEntry, FreshnessStore, RefusedEntry } from '../../ports/freshness-store.ts';

/** Refusals are kept this long (the table's TTL attribute), then DynamoDB deletes them at no charge. */
const REFUSED_TTL_DAYS = 30;

/**
 * The core's freshness table on DynamoDB (on demand: nothing to pay at rest beyond a few KB of storage).
 * Key `child` + `item`: `product#<name>` holds the child's latest summary of that product, written only if
 * it was published later than the one kept; `refused#<time>#<random>` holds a refusal until its TTL.
 */
export class DynamoFreshnessStore implements FreshnessStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBClient = new DynamoDBClient({}),
  ) {}

  async record(entry: FreshnessEntry): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            child: { S: entry.summary.child },
            item: { S: `product#${entry.summary.product}` },
            publishedAt: { S: entry.summary.publishedAt },
            receivedAt: { S: entry.receivedAt },
            summary: { S: JSON.stringify(entry.summary) },
          },
          // ISO times compare as text: a summary published earlier than the kept one does not replace it.
          ConditionExpression: 'attribute_not_exists(publishedAt) OR publishedAt < :p',
          ExpressionAttributeValues: { ':p': { S: entry.summary.publishedAt } },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  async refuse(entry: RefusedEntry): Promise<void> {
    const expiresAt = Math.floor(Date.parse(entry.receivedAt) / 1000) + REFUSED_TTL_DAYS * 86_400;
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          child: { S: entry.child ?? '(unknown)' },
          item: { S: `refused#${entry.receivedAt}#${randomBytes(4).toString('hex')}` },
          receivedAt: { S: entry.receivedAt },
          refused: { S: JSON.stringify(entry) },
          expiresAt: { N: String(expiresAt) },
        },
      }),
    );
  }

  async read(): Promise<{ latest: FreshnessEntry[]; refused: RefusedEntry[] }> {
    const latest: FreshnessEntry[] = [];
    const refused: RefusedEntry[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page: ScanCommandOutput = await this.client.send(
        new ScanCommand({ TableName: this.table, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) {
        if (item.summary?.S)
          latest.push({
            summary: PublishSummary.parse(JSON.parse(item.summary.S)),
            receivedAt: item.receivedAt?.S ?? '',
          });
        else if (item.refused?.S) refused.push(JSON.parse(item.refused.S) as RefusedEntry);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { latest, refused };
  }
}
