import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { idleCost } from '../../lib/cost/idle-cost.ts';
import { synthEnvironment } from './helpers.ts';

describe('idle cost', () => {
  it('the default child costs under $5 a month at rest, none of it compute', async () => {
    const { total, compute, lines } = idleCost(
      Template.fromStack(await synthEnvironment('child-a')).toJSON(),
    );
    expect(compute).toBe(0);
    expect(total).toBeLessThan(5);
    expect(lines.find((l) => l.item.startsWith('NAT'))!.count).toBe(0);
    // The database's managed secret, the webhook secrets, the partner directory and the federation key.
    expect(lines.find((l) => l.item.startsWith('Secrets'))!.count).toBe(4);
  });

  it('counts what a NAT gateway and a minimum capacity cost', async () => {
    const stack = await synthEnvironment('child-b', {
      database: { minAcu: 0.5, maxAcu: 8, autoPauseSeconds: 900 },
    });
    const { total, compute } = idleCost(Template.fromStack(stack).toJSON());
    expect(compute).toBeCloseTo(0.5 * 0.14 * 730, 5);
    expect(total).toBeGreaterThan(36.5 + 51);
  });
});
