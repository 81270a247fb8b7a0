import { z } from 'zod';
import { DynamoFreshnessStore } from '../../runtime/adapters/aws/dynamo-freshness-store.ts';
import { ENV } from '../../runtime/aws/names.ts';
import { CoreChild } from '../../runtime/federation/intake.ts';
import { requireEnv } from './env.ts';

/** The core's children (name, account, public key), as its stack wrote them from the core's config. */
export function coreChildren(): CoreChild[] {
  return z.array(CoreChild).parse(JSON.parse(requireEnv(ENV.coreChildren)));
}

export function freshnessStore(): DynamoFreshnessStore {
  return new DynamoFreshnessStore(requireEnv(ENV.freshnessTable));
}
