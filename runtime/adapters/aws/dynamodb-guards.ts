import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { NonceStore, RateLimiter } from '../../ports/request-guards.ts';

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

  async take(partner: string, perSecond: number): Promise<boolean> {
    const second = Math.floor(this.now() / 1000);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: `rate#${partner}#${second}` } },
          UpdateExpression: 'SET expiresAt = :expires ADD n :one',
          ConditionExpression: 'attribute_not_exists(n) OR n < :limit',
          ExpressionAttributeValues: {
            ':expires': { N: String(second + 120) },
            ':one': { N: '1' },
            ':limit': { N: String(perSecond) },
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
