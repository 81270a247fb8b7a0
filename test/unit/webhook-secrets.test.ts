import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  derivedHookSecret,
  parseWebhookSecrets,
  secretsForHook,
  verifySignature,
} from '../../runtime/triggers/webhook.ts';

const sign = (body: string, secret: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe('webhook secrets, one per hook', () => {
  it('derives each hook its own secret from the hook key the stack generates', () => {
    // Prepare: the document the stack's secret holds.
    const secrets = parseWebhookSecrets('{"hook-key": "k3y"}', 'the secret');

    // Act
    const places = secretsForHook(secrets, 'county_places');
    const stops = secretsForHook(secrets, 'stops_per_locality');

    // Assess: a secret each, the hex HMAC of the hook's name; one hook's secret signs for no other.
    expect(places).toEqual([derivedHookSecret('k3y', 'county_places')]);
    expect(places[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(places[0]).not.toBe(stops[0]);
    expect(verifySignature(Buffer.from('{}'), sign('{}', places[0]!), places[0]!)).toBe(true);
    expect(stops.some((s) => verifySignature(Buffer.from('{}'), sign('{}', places[0]!), s))).toBe(false);
  });

  it("prefers a hook's own entry, takes two hook keys while one is rotated, and still reads the old default", () => {
    const doc = parseWebhookSecrets(
      '{"county_places": "own", "hook-key": ["new", "old"], "default": "shared"}',
      'the secret',
    );
    expect(secretsForHook(doc, 'county_places')).toEqual(['own']);
    expect(secretsForHook(doc, 'stops')).toEqual([
      derivedHookSecret('new', 'stops'),
      derivedHookSecret('old', 'stops'),
    ]);
    const old = parseWebhookSecrets('{"default": "shared"}', 'the secret');
    expect(secretsForHook(old, 'stops')).toEqual(['shared']);
    expect(secretsForHook(parseWebhookSecrets('{}', 'x'), 'stops')).toEqual([]);
  });

  it('refuses a key that is neither a hook name nor the hook key, naming it', () => {
    expect(() => parseWebhookSecrets('{"hook_key": "x", "Hook-Key": "y"}', 'the secret s1')).toThrow(
      /the secret s1 is invalid: "Hook-Key": is not a hook name/,
    );
  });
});
