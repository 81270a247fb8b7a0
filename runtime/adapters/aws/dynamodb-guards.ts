import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { NonceStore, RateLimiter } from '../../ports/request-guards.ts';

/** Seconds a partner's bucket record is kept after the bucket would be full again (DynamoDB's TTL). */
const RATE_TTL_SECONDS = 120;

const conditionFailed = (e: unknown) => (e as { name?: string }).name === 'ConditionalCheckFailedException';

/**
 * Nonces and per-partner request counts in one on-demand DynamoDB table (`pk` string key, `expiresAt` the
 * TTL attribute), shared by every instance of the partner function and never waking the database. A
 * conditional write is the check: two instances seeing the same nonce at once cannot both succeed.
 * DynamoDB deletes expired items late, so the conditions compare `expiresAt` with now themselves.
 */
export class DynamoRequestGuards implements NonceStore, RateLimiter {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBClient = new DynamoDBClient({}),
    private readonly now: () => number = Date.now,
  ) {}

  async remember(nonce: string, seconds: number): Promise<boolean> {
    const now = Math.floor(this.now() / 1000);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: { S: `nonce#${nonce}` }, expiresAt: { N: String(now + seconds) } },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': { N: String(now) } },
        }),
      );
      return true;
    } catch (e) {
      if (conditionFailed(e)) return false;
      throw e;
    }
  }

  async remembers(nonce: string): Promise<boolean> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { pk: { S: `nonce#${nonce}` } },
        ConsistentRead: true,
      }),
    );
    // DynamoDB deletes expired items late: an item past its time is as good as gone.
    const expiresAt = Number(out.Item?.expiresAt?.N ?? 0);
    return expiresAt >= Math.floor(this.now() / 1000);
  }

  /**
   * The bucket's one number (`tat`, see RateLimiter) moved by conditional updates, so instances never read
   * then write: a full bucket (tat in the past) restarts at now; otherwise tat moves one interval on while
   * it stays within the burst. Two writes at most; whichever instance loses a race just sees the newer tat.
   */
  async take(partner: string, perSecond: number, burst = perSecond): Promise<boolean> {
    const now = Math.floor(this.now());
    const interval = Math.max(1, Math.round(1000 / perSecond));
    const key = { pk: { S: `rate#${partner}` } };
    const expires = {
      N: String(Math.floor(now / 1000) + Math.ceil((burst * interval) / 1000) + RATE_TTL_SECONDS),
    };
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET tat = :next, expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
          ExpressionAttributeValues: {
            ':next': { N: String(now + interval) },
            ':now': { N: String(now) },
            ':expires': expires,
          },
        }),
      );
      return true;
    } catch (e) {
      if (!conditionFailed(e)) throw e;
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET tat = tat + :interval, expiresAt = :expires',
          ConditionExpression: 'tat <= :limit',
          ExpressionAttributeValues: {
            ':interval': { N: String(interval) },
            ':limit': { N: String(now + (burst - 1) * interval) },
            ':expires': expires,
          },
        }),
      );
      return true;
    } catch (e) {
      if (conditionFailed(e)) return false;
      throw e;
    }
  }
}
