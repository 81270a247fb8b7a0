import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { idleCost } from '../../lib/cost/idle-cost.ts';
import { synthEnvironment } from './helpers.ts';

describe('idle cost', () => {
  it('the default child costs under $5 a month at rest, none of it compute', () => {
    const { total, compute, lines } = idleCost(Template.fromStack(synthEnvironment('child-a')).toJSON());
    expect(compute).toBe(0);
    expect(total).toBeLessThan(5);
    expect(lines.find((l) => l.item.startsWith('NAT'))!.count).toBe(0);
    // The webhook secrets, the partner directory and the database's managed secret.
    expect(lines.find((l) => l.item.startsWith('Secrets'))!.count).toBe(3);
  });

  it('counts what a NAT gateway and a minimum capacity cost', () => {
    const stack = synthEnvironment('child-b', {
      database: { minAcu: 0.5, maxAcu: 8, autoPauseSeconds: 900 },
    });
    const { total, compute } = idleCost(Template.fromStack(stack).toJSON());
    expect(compute).toBeCloseTo(0.5 * 0.14 * 730, 5);
    expect(total).toBeGreaterThan(36.5 + 51);
  });
});
