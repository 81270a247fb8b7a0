import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoRequestGuards } from '../../runtime/adapters/aws/dynamodb-guards.ts';
import { SecretsPartnerDirectory } from '../../runtime/adapters/aws/secrets-partner-directory.ts';
import { MemoryNonceStore } from '../../runtime/adapters/local/memory-guards.ts';
import { PartnerEnv, PartnerFile } from '../../runtime/adapters/local/partner-file.ts';
import { addKey, addPartner, describePartners, revokeKey, setScopes } from '../../runtime/partners/admin.ts';
import {
  emptyDirectory,
  findApiKey,
  findHawkKey,
  PartnerDirectoryError,
} from '../../runtime/partners/credentials.ts';
import { Scopes } from '../../runtime/partners/scopes.ts';
import { Scope } from '../../runtime/ports/partner-directory.ts';

describe('partners, keys and scopes', () => {
  it("issues a Hawk key and an API key, keeps only the API key's hash, and finds both", () => {
    // Act
    const { doc, issued } = addPartner(emptyDirectory(), 'acme', { scopes: ['read:products/*'] });
    // Assess
    const stored = JSON.stringify(doc);
    expect(stored).not.toContain(issued.apiKey!.key);
    expect(issued.apiKey!.key).toMatch(/^strata_[0-9a-f]{12}_[0-9a-f]{64}$/);
    expect(findApiKey(doc, issued.apiKey!.key)?.id).toBe('acme');
    expect(findApiKey(doc, `${issued.apiKey!.key.slice(0, -1)}x`)).toBeUndefined();
    expect(findHawkKey(doc, issued.hawk!.id)?.key.key).toBe(issued.hawk!.key);
    expect(findHawkKey(doc, 'constructor.00000000')).toBeUndefined();
  });

  it('rotates: a second key works beside the first until the first is revoked', () => {
    // Prepare
    const first = addPartner(emptyDirectory(), 'acme', { scopes: [] });
    const second = addKey(first.doc, 'acme', 'api', 'QGIS');
    // Act
    const revoked = revokeKey(second.doc, 'acme', first.issued.apiKey!.id);
    // Assess
    expect(findApiKey(second.doc, first.issued.apiKey!.key)?.id).toBe('acme');
    expect(findApiKey(revoked, first.issued.apiKey!.key)).toBeUndefined();
    expect(findApiKey(revoked, second.issued.apiKey!.key)?.id).toBe('acme');
    expect(describePartners(revoked)[0]!.keys.map((k) => k.kind)).toEqual(['hawk', 'api']);
    expect(() => revokeKey(revoked, 'acme', 'nope')).toThrow(/has no key "nope"/);
    expect(() => addPartner(revoked, 'acme', { scopes: [] })).toThrow(/already exists/);
  });

  it('reads scopes: names and *, what each allows, and what they make visible', () => {
    // Act
    const s = new Scopes(['read:products/places', 'upload:datasets/*', 'build:products/places']);
    // Assess
    expect(s.allows('read', 'products', 'places')).toBe(true);
    expect(s.allows('read', 'products', 'other')).toBe(false);
    expect(s.allows('upload', 'datasets', 'anything')).toBe(true);
    expect(s.allows('read', 'datasets', 'anything')).toBe(false);
    expect(s.sees('datasets', 'anything')).toBe(true);
    expect(s.operator).toBe(false);
    expect(new Scopes(['operator']).operator).toBe(true);
    expect(Scope.safeParse('read:products/Places').success).toBe(false);
    expect(Scope.safeParse('upload:products/x').success).toBe(false);
    expect(Scope.safeParse('build:products/*').success).toBe(true);
  });
});

describe('partner directory adapters', () => {
  it('a file: re-read when it changes, written whole with mode 0600, refused with where and what when invalid', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'strata-partners-'));
    const file = new PartnerFile(join(dir, 'partners.json'));
    const none = await file.read();
    // Act
    await file.update((doc) => addPartner(doc, 'acme', { scopes: ['read:products/*'] }).doc);
    const once = await file.read();
    await file.update((doc) => setScopes(doc, 'acme', ['operator']));
    const twice = await file.read();
    await writeFile(join(dir, 'broken.json'), '{"version":1,"signingKey":"short"}');
    // Assess
    expect(Object.keys(none.partners)).toEqual([]);
    expect(once.partners.acme!.scopes).toEqual(['read:products/*']);
    expect(twice.partners.acme!.scopes).toEqual(['operator']);
    expect(once.signingKey).toBe(twice.signingKey);
    expect((await stat(join(dir, 'partners.json'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, 'partners.json'), 'utf8')).partners.acme.apiKeys).toHaveLength(
      1,
    );
    await expect(new PartnerFile(join(dir, 'broken.json')).read()).rejects.toThrow(
      new RegExp(`${dir}/broken.json is invalid: signingKey`),
    );
    expect(() => new PartnerEnv('{"partners":')).toThrow(PartnerDirectoryError);
  });

  describe('Secrets Manager', () => {
    const sm = mockClient(SecretsManagerClient);
    beforeEach(() => sm.reset());

    it('is read at most once a minute, so rotation needs no deploy and costs one call a minute', async () => {
      // Prepare
      let now = 0;
      const first = addPartner(emptyDirectory(), 'acme', { scopes: [] }).doc;
      const second = setScopes(first, 'acme', ['read:products/*']);
      sm.on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: JSON.stringify(first) })
        .resolves({ SecretString: JSON.stringify(second) });
      const dir = new SecretsPartnerDirectory(
        'arn:secret:partners',
        new SecretsManagerClient({}),
        60_000,
        () => now,
      );
      // Act
      const a = await dir.read();
      now = 59_000;
      const b = await dir.read();
      now = 61_000;
      const c = await dir.read();
      // Assess
      expect(a.partners.acme!.scopes).toEqual([]);
      expect(b.partners.acme!.scopes).toEqual([]);
      expect(c.partners.acme!.scopes).toEqual(['read:products/*']);
      expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });

    it('is changed by reading the secret, applying the change and putting the whole document back', async () => {
      // Prepare
      sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(emptyDirectory()) });
      sm.on(PutSecretValueCommand).resolves({});
      const dir = new SecretsPartnerDirectory('arn:secret:partners', new SecretsManagerClient({}));
      // Act
      await dir.update((doc) => addPartner(doc, 'acme', { scopes: ['operator'] }).doc);
      // Assess
      const put = sm.commandCalls(PutSecretValueCommand)[0]!.args[0].input;
      expect(put.SecretId).toBe('arn:secret:partners');
      expect(JSON.parse(put.SecretString!).partners.acme.scopes).toEqual(['operator']);
    });

    it('names the secret and the field when the document is invalid', async () => {
      sm.on(GetSecretValueCommand).resolves({ SecretString: '{"version":1,"partners":{}}' });
      await expect(
        new SecretsPartnerDirectory('arn:secret:partners', new SecretsManagerClient({})).read(),
      ).rejects.toThrow(/secret arn:secret:partners is invalid: signingKey/);
    });
  });
});

describe('request guards', () => {
  const ddb = mockClient(DynamoDBClient);
  beforeEach(() => ddb.reset());
  const failed = () => Object.assign(new Error('condition'), { name: 'ConditionalCheckFailedException' });

  it('remembers a nonce with a conditional put, so a second instance seeing it again is told it is a replay', async () => {
    // Prepare
    ddb.on(PutItemCommand).resolvesOnce({}).rejectsOnce(failed()).rejects(new Error('throttled'));
    const guards = new DynamoRequestGuards('guards', new DynamoDBClient({}), () => 1_800_000_000_000);
    // Act
    const first = await guards.remember('acme.1a2b3c4d:n1', 180);
    const second = await guards.remember('acme.1a2b3c4d:n1', 180);
    const down = guards.remember('acme.1a2b3c4d:n2', 180);
    // Assess
    expect([first, second]).toEqual([true, false]);
    await expect(down).rejects.toThrow('throttled');
    expect(ddb.commandCalls(PutItemCommand)[0]!.args[0].input).toEqual({
      TableName: 'guards',
      Item: { pk: { S: 'nonce#acme.1a2b3c4d:n1' }, expiresAt: { N: '1800000180' } },
      ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
      ExpressionAttributeValues: { ':now': { N: '1800000000' } },
    });
  });

  it("keeps each partner's bucket as one time moved by conditional updates, never read then written", async () => {
    // Prepare: the first request finds the bucket full; the next two find it not, and the third finds it empty.
    ddb
      .on(UpdateItemCommand)
      .resolvesOnce({})
      .rejectsOnce(failed())
      .resolvesOnce({})
      .rejectsOnce(failed())
      .rejectsOnce(failed());
    const guards = new DynamoRequestGuards('guards', new DynamoDBClient({}), () => 1_800_000_000_500);
    // Act
    const results = [
      await guards.take('acme', 5, 10),
      await guards.take('acme', 5, 10),
      await guards.take('acme', 5, 10),
    ];
    // Assess
    expect(results).toEqual([true, true, false]);
    const inputs = ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
    expect(inputs[0]).toMatchObject({
      Key: { pk: { S: 'rate#acme' } },
      UpdateExpression: 'SET tat = :next, expiresAt = :expires',
      ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
      ExpressionAttributeValues: expect.objectContaining({ ':next': { N: '1800000000700' } }),
    });
    // 200 ms a request at 5 a second; ten at once: the bucket's time may be nine intervals ahead of now.
    expect(inputs[2]).toMatchObject({
      UpdateExpression: 'SET tat = tat + :interval, expiresAt = :expires',
      ConditionExpression: 'tat <= :limit',
      ExpressionAttributeValues: expect.objectContaining({
        ':interval': { N: '200' },
        ':limit': { N: '1800000002300' },
      }),
    });
    expect(inputs).toHaveLength(5);
  });

  it('forgets a nonce in memory once its time is up', async () => {
    // Prepare
    let now = 0;
    const nonces = new MemoryNonceStore(() => now);
    // Act
    const first = await nonces.remember('n', 180);
    now = 179_000;
    const replay = await nonces.remember('n', 180);
    now = 181_000;
    const later = await nonces.remember('n', 180);
    // Assess
    expect([first, replay, later]).toEqual([true, false, true]);
  });
});
