import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoFreshnessStore } from '../../runtime/adapters/aws/dynamo-freshness-store.ts';
import { EventBridgeFederation } from '../../runtime/adapters/aws/eventbridge-federation.ts';
import { FileFreshnessStore } from '../../runtime/adapters/local/file-freshness-store.ts';
import { type CoreChild, coreStatus, receiveSummary } from '../../runtime/federation/intake.ts';
import { canonicalJson, type PublishSummary } from '../../runtime/ports/federation.ts';
import {
  FederationKeyError,
  newFederationSecret,
  publicKeyOf,
  signingKey,
  signSummary,
  verifySummary,
} from '../../runtime/ports/federation-keys.ts';

const secretA = newFederationSecret();
const secretB = newFederationSecret();
const children: CoreChild[] = [
  { name: 'child-a', account: '222222222222', publicKey: publicKeyOf(secretA) },
  { name: 'child-b', account: '333333333333', publicKey: publicKeyOf(secretB) },
  { name: 'child-c', account: '444444444444' },
];

function summary(over: Partial<PublishSummary> = {}): PublishSummary {
  return {
    child: 'child-a',
    product: 'stops_per_locality',
    version: '20261120T040000000Z-aaaaaaaa',
    runId: '20261120T035900000Z-aaaaaaaa',
    manifest: { key: 'products/stops_per_locality/v/manifest.json', sha256: 'a'.repeat(64) },
    rows: { stops_per_locality: 12 },
    checks: [
      { name: 'row_count', severity: 'error', passed: true, count: 12 },
      { name: 'few stops', severity: 'warn', passed: false, count: 2 },
    ],
    publishedAt: '2026-11-20T04:00:00.000Z',
    catalogSha256: 'b'.repeat(64),
    schedule: '0 4 * * *',
    ...over,
  };
}

describe('federation keys', () => {
  it('derives the same Ed25519 key from the same secret, and signs what only its public key verifies', () => {
    // Prepare
    const signed = signSummary(summary(), signingKey(secretA));

    // Assess
    expect(publicKeyOf(secretA)).toBe(publicKeyOf(` ${secretA}\n`));
    expect(signingKey(secretA).asymmetricKeyType).toBe('ed25519');
    expect(verifySummary(signed, publicKeyOf(secretA))).toBe(true);
    expect(verifySummary(signed, publicKeyOf(secretB))).toBe(false);
    expect(verifySummary(signed, 'not a key')).toBe(false);
    // Any change to the summary breaks the signature, whatever order its keys come in.
    expect(
      verifySummary({ ...signed, summary: { ...signed.summary, version: 'forged' } }, publicKeyOf(secretA)),
    ).toBe(false);
    const reordered = Object.fromEntries(Object.entries(signed.summary).reverse());
    expect(verifySummary({ ...signed, summary: reordered }, publicKeyOf(secretA))).toBe(true);
  });

  it('refuses secret text too short to be a key', () => {
    expect(() => signingKey('short')).toThrow(FederationKeyError);
    expect(() => signingKey('short')).toThrow(/at least 32 characters, got 5/);
  });

  it('writes canonical JSON with sorted keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"y":0,"z":1}]},"b":1}',
    );
  });
});

describe('the core receiving summaries', () => {
  let store: FileFreshnessStore;
  beforeEach(async () => {
    store = new FileFreshnessStore(await mkdtemp(join(tmpdir(), 'strata-core-')));
  });
  const now = new Date('2026-11-20T05:00:00.000Z');

  it('takes a verified summary and keeps it as its child and product freshness', async () => {
    // Act
    const outcome = await receiveSummary(signSummary(summary(), signingKey(secretA)), {
      children,
      store,
      now,
    });

    // Assess
    expect(outcome).toEqual({
      status: 'accepted',
      child: 'child-a',
      product: 'stops_per_locality',
      kept: true,
    });
    const status = coreStatus(children, await store.read(), now);
    expect(status.children.map((c) => [c.name, c.products.length, c.keyConfigured])).toEqual([
      ['child-a', 1, true],
      ['child-b', 0, true],
      ['child-c', 0, false],
    ]);
    expect(status.children[0]!.products[0]).toMatchObject({
      product: 'stops_per_locality',
      version: '20261120T040000000Z-aaaaaaaa',
      ageSeconds: 3600,
      overdue: false,
      failedChecks: [{ name: 'few stops', severity: 'warn', count: 2 }],
      catalogSha256: 'b'.repeat(64),
    });
  });

  it('refuses, and records why, anything that does not verify as its child', async () => {
    // Prepare: each way a summary can be wrong.
    const cases: [unknown, RegExp, string | undefined][] = [
      [{ nonsense: true }, /not a signed summary/, undefined],
      [signSummary(summary({ child: 'child-z' }), signingKey(secretA)), /unknown child "child-z"/, undefined],
      [
        signSummary(summary({ child: 'child-c' }), signingKey(secretA)),
        /no public key is configured/,
        undefined,
      ],
      // Signed by child-b's key, claiming to be child-a: forged.
      [signSummary(summary(), signingKey(secretB)), /signature does not verify/, undefined],
      [
        { ...signSummary(summary(), signingKey(secretA)), summary: { ...summary(), rows: { x: 1e6 } } },
        /signature does not verify/,
        undefined,
      ],
      // Signed right, but put on the bus by another account.
      [signSummary(summary(), signingKey(secretA)), /sent from account 333333333333/, '333333333333'],
      [
        signSummary(
          { ...summary(), manifest: { key: 'k', sha256: 'nope' } } as PublishSummary,
          signingKey(secretA),
        ),
        /not a valid summary: manifest.sha256/,
        undefined,
      ],
      // A product name that would leave the freshness table's folder.
      [
        signSummary(summary({ product: '../../escape' }), signingKey(secretA)),
        /not a valid summary: product/,
        undefined,
      ],
    ];

    // Act + assess
    for (const [raw, reason, sourceAccount] of cases)
      expect(await receiveSummary(raw, { children, store, now, sourceAccount })).toEqual({
        status: 'refused',
        reason: expect.stringMatching(reason),
      });
    const { latest, refused } = await store.read();
    expect(latest).toEqual([]);
    expect(refused).toHaveLength(cases.length);
    const status = coreStatus(children, { latest, refused }, now);
    expect(status.children[0]!.refused.map((r) => r.reason)).toEqual(
      expect.arrayContaining([expect.stringMatching(/signature does not verify/)]),
    );
    expect(status.refusedUnknown.map((r) => r.child)).toEqual(expect.arrayContaining([null, 'child-z']));
  });

  it('keeps the later of two summaries of a product, whatever order they arrive in', async () => {
    const key = signingKey(secretA);
    const later = summary({ version: 'v2', publishedAt: '2026-11-20T04:30:00.000Z' });
    expect(await receiveSummary(signSummary(later, key), { children, store, now })).toMatchObject({
      kept: true,
    });
    expect(await receiveSummary(signSummary(summary(), key), { children, store, now })).toMatchObject({
      status: 'accepted',
      kept: false,
    });
    expect((await store.read()).latest.map((e) => e.summary.version)).toEqual(['v2']);
  });

  it("says a product is late once its schedule's longest gap and the grace have passed", () => {
    const entry = { summary: summary(), receivedAt: '2026-11-20T04:00:01.000Z' };
    const at = (iso: string) => coreStatus(children, { latest: [entry], refused: [] }, new Date(iso));
    expect(at('2026-11-21T04:59:00.000Z').children[0]!.products[0]!.overdue).toBe(false);
    expect(at('2026-11-21T05:01:00.000Z').children[0]!.products[0]!.overdue).toBe(true);
  });

  it('says a product is late when a product of its child it reads is, at any depth, naming it', () => {
    // Prepare: a daily product, one built hourly from it, and one from that; only the daily one is behind.
    const entry = (over: Partial<PublishSummary>) => ({
      summary: summary(over),
      receivedAt: '2026-11-21T06:00:00.000Z',
    });
    const read = (product: string) => [{ product, output: product, version: 'v1' }];
    const latest = [
      entry({ product: 'daily', publishedAt: '2026-11-19T04:00:00.000Z' }),
      entry({
        product: 'hourly',
        schedule: 'rate(1 hour)',
        publishedAt: '2026-11-21T05:30:00.000Z',
        upstream: read('daily'),
      }),
      entry({ product: 'summary', schedule: undefined, upstream: read('hourly') }),
      entry({ product: 'other', schedule: undefined }),
    ];
    // Act
    const products = coreStatus(children, { latest, refused: [] }, new Date('2026-11-21T06:00:00.000Z'))
      .children[0]!.products;
    // Assess
    const late = (name: string) => products.find((p) => p.product === name)!;
    expect(
      ['daily', 'hourly', 'summary', 'other'].map((n) => [n, late(n).overdue, late(n).lateUpstream]),
    ).toEqual([
      ['daily', true, []],
      ['hourly', true, ['daily']],
      ['summary', true, ['hourly']],
      ['other', false, []],
    ]);
    expect(late('hourly').upstream).toEqual(read('daily'));
  });
});

describe('the federation adapters on AWS', () => {
  const events = mockClient(EventBridgeClient);
  const secrets = mockClient(SecretsManagerClient);
  const dynamo = mockClient(DynamoDBClient);
  beforeEach(() => {
    events.reset();
    secrets.reset();
    dynamo.reset();
  });

  it("puts the signed summary on the child's own bus as ProductPublished, reading its key once", async () => {
    // Prepare
    secrets.on(GetSecretValueCommand).resolves({ SecretString: secretA });
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    const federation = new EventBridgeFederation(
      { child: 'child-a', keySecretArn: 'arn:secret', eventBus: 'default' },
      new EventBridgeClient({}),
      new SecretsManagerClient({}),
    );

    // Act
    const signed = signSummary(summary(), await federation.signingKey());
    await federation.send(signed);
    await federation.signingKey();

    // Assess
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    const [entry] = events.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries!;
    expect(entry).toMatchObject({
      EventBusName: 'default',
      Source: 'strata',
      DetailType: 'ProductPublished',
    });
    expect(verifySummary(JSON.parse(entry!.Detail!), publicKeyOf(secretA))).toBe(true);
  });

  it('fails the send when EventBridge refuses the entry', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: secretA });
    events
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'AccessDenied', ErrorMessage: 'no' }] });
    const federation = new EventBridgeFederation({
      child: 'child-a',
      keySecretArn: 'arn',
      eventBus: 'default',
    });
    await expect(federation.send(signSummary(summary(), signingKey(secretA)))).rejects.toThrow(
      /AccessDenied/,
    );
  });

  it('keeps freshness in DynamoDB only when newer, and reads every page back', async () => {
    // Prepare
    dynamo
      .on(PutItemCommand)
      .resolvesOnce({})
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'older', $metadata: {} }))
      .resolves({});
    dynamo
      .on(ScanCommand)
      .resolvesOnce({
        Items: [{ summary: { S: JSON.stringify(summary()) }, receivedAt: { S: '2026-11-20T04:00:01.000Z' } }],
        LastEvaluatedKey: { child: { S: 'child-a' }, item: { S: 'x' } },
      })
      .resolvesOnce({
        Items: [{ refused: { S: JSON.stringify({ child: null, receivedAt: 't', reason: 'r' }) } }],
      });
    const store = new DynamoFreshnessStore('Freshness', new DynamoDBClient({}));

    // Act
    const kept = await store.record({ summary: summary(), receivedAt: 'now' });
    const older = await store.record({ summary: summary(), receivedAt: 'now' });
    await store.refuse({ child: 'child-a', receivedAt: '2026-11-20T04:00:00.000Z', reason: 'bad' });
    const read = await store.read();

    // Assess
    expect([kept, older]).toEqual([true, false]);
    const put = dynamo.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(put).toMatchObject({
      TableName: 'Freshness',
      Item: { child: { S: 'child-a' }, item: { S: 'product#stops_per_locality' } },
      ConditionExpression: 'attribute_not_exists(publishedAt) OR publishedAt < :p',
    });
    const refusal = dynamo.commandCalls(PutItemCommand)[2]!.args[0].input.Item!;
    expect(refusal.item!.S).toMatch(/^refused#2026-11-20T04:00:00.000Z#/);
    expect(Number(refusal.expiresAt!.N)).toBe(Date.parse('2026-11-20T04:00:00.000Z') / 1000 + 30 * 86_400);
    expect(dynamo.commandCalls(ScanCommand)[1]!.args[0].input.ExclusiveStartKey).toEqual({
      child: { S: 'child-a' },
      item: { S: 'x' },
    });
    expect(read.latest.map((e) => e.summary.product)).toEqual(['stops_per_locality']);
    expect(read.refused).toEqual([{ child: null, receivedAt: 't', reason: 'r' }]);
  });
});
