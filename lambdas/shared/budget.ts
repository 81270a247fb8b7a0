import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { WaitBudget } from '../../runtime/aws/wait-budget.ts';

/** The function instance's one budget: the Data API reads it before every wait and every call. */
export const invocationBudget = new WaitBudget();

/**
 * Middy middleware, first in the chain: starts the budget from the invocation's remaining time
 * (`context.getRemainingTimeInMillis()`) less `marginMs`, and clears it when the invocation ends.
 */
export function waitBudget(
  marginMs: number,
  budget: WaitBudget = invocationBudget,
): MiddlewareObj<unknown, unknown, Error, Context> {
  const end = async () => budget.end();
  return {
    before: async (request) => budget.start(request.context.getRemainingTimeInMillis(), marginMs),
    after: end,
    onError: end,
  };
}
