import {
  CreateApiDestinationCommand,
  CreateConnectionCommand,
  DeleteApiDestinationCommand,
  DeleteConnectionCommand,
  DeleteRuleCommand,
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  EventBridgeNotifications,
  NOTIFICATION_EVENT,
  type NotificationDetail,
} from '../../runtime/adapters/aws/eventbridge-notifications.ts';
import { checkCallbackUrl, isPrivateAddress } from '../../runtime/partners/callback-url.ts';
import {
  newSigningSecret,
  PublishNotification,
  signNotification,
  verifyNotification,
} from '../../runtime/ports/notifications.ts';
import type { Manifest } from '../../runtime/publish/manifest.ts';
import { notificationBody } from '../../runtime/publish/notify.ts';

const CONFIG = {
  eventBus: 'strata-notifications',
  namePrefix: 'strata-n-',
  invokeRoleArn: 'arn:aws:iam::111111111111:role/invoke',
  deadLetterQueueArn: 'arn:aws:sqs:eu-west-2:111111111111:notifications-dlq',
};

describe('Standard Webhooks signatures', () => {
  it('match the standardwebhooks library, which refuses a stale timestamp and another secret', () => {
    const secret = newSigningSecret();
    const at = new Date();
    const body = JSON.stringify({ type: 'product.published', data: { product: 'p' } });
    const headers = signNotification(secret, 'msg_1', at, body);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(verifyNotification(secret, headers, body, at)).toBe(true);
    // The library's own signature of the same message is ours, byte for byte.
    expect(new Webhook(secret).sign('msg_1', at, body)).toBe(headers['webhook-signature']);
    expect(() => new Webhook(newSigningSecret()).verify(body, { ...headers })).toThrow();
    const old = signNotification(secret, 'msg_1', new Date(at.getTime() - 600_000), body);
    expect(() => new Webhook(secret).verify(body, { ...old })).toThrow();
    expect(verifyNotification(secret, old, body, at)).toBe(false);
  });
});

describe('callback URLs', () => {
  const resolveTo = (addresses: string[]) => async () => addresses;

  it('take https, and plain http only to localhost on a laptop', async () => {
    expect(await checkCallbackUrl('http://127.0.0.1:9000/h', { local: true })).toBe(
      'http://127.0.0.1:9000/h',
    );
    await expect(checkCallbackUrl('http://gis.example.org/h', { local: true })).rejects.toThrow(
      'url: must be https',
    );
    await expect(checkCallbackUrl('ftp://x', { local: true })).rejects.toThrow('url: must be https');
    await expect(checkCallbackUrl('https://u:p@gis.example.org/h', { local: false })).rejects.toThrow(
      'must not carry a user name or password',
    );
    await expect(checkCallbackUrl('not a url', { local: false })).rejects.toThrow('must be an absolute URL');
  });

  it('refuse private, loopback and link-local addresses on AWS, named or resolved', async () => {
    for (const url of [
      'https://localhost/h',
      'https://127.0.0.1/h',
      'https://169.254.169.254/latest/meta-data',
      'https://10.1.2.3/h',
      'https://192.168.0.1/h',
      'https://[::1]/h',
      'https://[fe80::1]/h',
      'https://[::ffff:10.0.0.1]/h',
    ])
      await expect(
        checkCallbackUrl(url, { local: false, resolve: resolveTo(['93.184.216.34']) }),
      ).rejects.toThrow('private or loopback');
    await expect(
      checkCallbackUrl('https://inside.example.org/h', { local: false, resolve: resolveTo(['172.20.0.5']) }),
    ).rejects.toThrow('inside.example.org resolves to a private address (172.20.0.5)');
    expect(
      await checkCallbackUrl('https://gis.example.org/h', {
        local: false,
        resolve: resolveTo(['93.184.216.34']),
      }),
    ).toBe('https://gis.example.org/h');
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
  });
});

describe('notifications through EventBridge API destinations', () => {
  const events = mockClient(EventBridgeClient);
  beforeEach(() => events.reset());

  it('provisions a connection, an API destination, a rule for the subscription and a target with the signed headers', async () => {
    events.on(CreateConnectionCommand).resolves({ ConnectionArn: 'arn:conn' });
    events.on(CreateApiDestinationCommand).resolves({ ApiDestinationArn: 'arn:dest' });
    events.on(PutRuleCommand).resolves({});
    events.on(PutTargetsCommand).resolves({ FailedEntryCount: 0 });
    await new EventBridgeNotifications(CONFIG, events as never).provision({
      id: 'sub_1',
      partner: 'acme',
      url: 'https://gis.example.org/h',
    });
    expect(events.commandCalls(CreateConnectionCommand)[0]?.args[0].input).toMatchObject({
      Name: 'strata-n-sub_1',
      AuthorizationType: 'API_KEY',
    });
    expect(events.commandCalls(CreateApiDestinationCommand)[0]?.args[0].input).toMatchObject({
      Name: 'strata-n-sub_1',
      ConnectionArn: 'arn:conn',
      InvocationEndpoint: 'https://gis.example.org/h',
      HttpMethod: 'POST',
    });
    const rule = events.commandCalls(PutRuleCommand)[0]?.args[0].input;
    expect(rule?.EventBusName).toBe('strata-notifications');
    expect(JSON.parse(rule?.EventPattern ?? '')).toEqual({
      source: [NOTIFICATION_EVENT.source],
      'detail-type': [NOTIFICATION_EVENT.detailType],
      detail: { subscription: ['sub_1'] },
    });
    expect(events.commandCalls(PutTargetsCommand)[0]?.args[0].input.Targets?.[0]).toEqual({
      Id: 'partner',
      Arn: 'arn:dest',
      RoleArn: CONFIG.invokeRoleArn,
      InputPath: '$.detail.body',
      HttpParameters: {
        HeaderParameters: {
          'webhook-id': '$.detail.webhookId',
          'webhook-timestamp': '$.detail.webhookTimestamp',
          'webhook-signature': '$.detail.webhookSignature',
        },
      },
      RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
      DeadLetterConfig: { Arn: CONFIG.deadLetterQueueArn },
    });
  });

  it('retires everything of a subscription, going on past what is already gone', async () => {
    events
      .on(RemoveTargetsCommand)
      .rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    events.on(DeleteRuleCommand).resolves({});
    events.on(DeleteApiDestinationCommand).resolves({});
    events.on(DeleteConnectionCommand).resolves({});
    await new EventBridgeNotifications(CONFIG, events as never).retire('sub_1');
    expect(events.commandCalls(DeleteConnectionCommand)[0]?.args[0].input).toEqual({
      Name: 'strata-n-sub_1',
    });
  });

  it('puts signed events whose mapped body and headers verify with the standardwebhooks library', async () => {
    events.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ EventId: 'e1' }, { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });
    const secret = newSigningSecret();
    const body = JSON.stringify({ type: 'product.published', data: { product: 'p', version: 'v' } });
    const outcomes = await new EventBridgeNotifications(CONFIG, events as never).send(
      ['msg_a', 'msg_b'].map((id) => ({
        id,
        subscription: { id: 'sub_1', partner: 'acme', url: 'https://gis.example.org/h' },
        body,
        secret,
      })),
    );
    expect(outcomes).toEqual([
      { id: 'msg_a', outcome: 'handed-off', detail: 'event e1' },
      { id: 'msg_b', outcome: 'failed', error: 'InternalFailure try again' },
    ]);
    const entry = events.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    const detail = JSON.parse(entry?.Detail ?? '') as NotificationDetail;
    // What the target sends: $.detail.body as JSON, and the three headers from the detail.
    const sent = JSON.stringify(detail.body);
    expect(sent).toBe(body);
    const headers = {
      'webhook-id': detail.webhookId,
      'webhook-timestamp': detail.webhookTimestamp,
      'webhook-signature': detail.webhookSignature,
    };
    expect(new Webhook(secret).verify(sent, headers)).toEqual(JSON.parse(body));
  });
});

describe('the notification body', () => {
  const output = (name: string, format: string, rows: number) => ({
    name,
    table: name,
    format,
    key: `products/p/v2/${name}.${format}`,
    size: 1,
    sha256: 'a'.repeat(64),
    rows,
    srid: null,
  });
  const manifest = {
    product: 'p',
    version: 'v2',
    runId: 'r',
    builtAt: '2026-12-07T04:00:00.000Z',
    platform: { name: 'strata', version: '0.1.0', engine: 'test' },
    inputs: [],
    steps: [],
    checks: [],
    outputs: [
      output('fed', 'csv', 5),
      output('fed', 'flatgeobuf', 5),
      output('unkeyed', 'flatgeobuf', 7),
      output('table_only', 'csv', 9),
    ],
    timings: { totalMs: 1 },
  } as unknown as Manifest;

  it('links a collection only where one is paged, and changes only where the version has a feed', () => {
    const body = notificationBody(
      manifest,
      'v1',
      '2026-12-07T04:00:00.000Z',
      'https://api.example/v1/',
      new Set(['fed']),
    );
    expect(PublishNotification.parse(body).data.outputs).toEqual([
      {
        name: 'fed',
        rows: 5,
        collection: 'p.fed',
        changes: 'https://api.example/v1/collections/p.fed/changes?since=v1',
      },
      // A FlatGeobuf without a feed (no key): its collection, but no link that would answer 410.
      { name: 'unkeyed', rows: 7, collection: 'p.unkeyed' },
      // No FlatGeobuf, no collection to page: neither link would answer.
      { name: 'table_only', rows: 9 },
    ]);
    // A first version has nothing to compare with, feed or not.
    const first = notificationBody(
      manifest,
      null,
      '2026-12-07T04:00:00.000Z',
      'https://api.example/v1',
      new Set(['fed']),
    );
    expect(first.data.outputs[0]).toEqual({ name: 'fed', rows: 5, collection: 'p.fed' });
  });
});
