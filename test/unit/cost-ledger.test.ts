import { describe, expect, it } from 'vitest';
import { costLedger, type LedgerInput } from '../../runtime/cost/ledger.ts';
import { PRICES } from '../../runtime/cost/prices.ts';
import { DEFAULT_TASK_SIZES } from '../../runtime/cost/profile.ts';
import { s3ListRequestsFor, s3PutRequestsFor } from '../../runtime/cost/usage.ts';
import { wokeBy } from '../../runtime/cost/wake.ts';
import { parseSince } from '../../runtime/runs/since.ts';

const usage = {
  s3: {
    putRequests: 5,
    listRequests: 2,
    getRequests: 2,
    headRequests: 1,
    bytesWritten: 2 * 1024 ** 3,
    bytesRead: 1000,
  },
  dataApiCalls: 0,
};

const base: LedgerInput = {
  where: 'aws',
  startedAt: '2026-11-20T10:00:00.000Z',
  finishedAt: '2026-11-20T10:05:00.000Z',
  size: 'medium',
  spec: DEFAULT_TASK_SIZES.medium,
  database: { minAcu: 0, maxAcu: 4, autoPauseSeconds: 300 },
  wokeCluster: false,
  attempts: 1,
  usage,
};

describe('a run cost ledger', () => {
  it('prices a medium run of five minutes from its recorded times and its size class', () => {
    // Act
    const l = costLedger(base);

    // Assess: 300 s of 1 vCPU and 4 GB, 50 GB ephemeral (30 above the free 20), on ARM64.
    expect(l.task).toMatchObject({
      size: 'medium',
      cpu: 1024,
      memoryMiB: 4096,
      seconds: 300,
      billedSeconds: 300,
    });
    expect(l.task.vcpuSeconds).toBe(300);
    expect(l.task.gbSeconds).toBe(1200);
    const fargate =
      (300 * PRICES.fargateArmVcpuHour +
        1200 * PRICES.fargateArmGbHour +
        30 * 300 * PRICES.fargateEphemeralGbHour) /
      3600;
    expect(l.usd.fargate).toBeCloseTo(fargate, 8);
    // Aurora at most at its maximum (4 ACU) for the run, no wake-up.
    expect(l.aurora).toMatchObject({ acuSeconds: 1200, wokeCluster: false });
    expect(l.usd.aurora).toBeCloseTo((1200 * PRICES.auroraAcuHour) / 3600, 8);
    // Requests as counted (LIST priced as PUT, HEAD as GET), and the Data API statements of one attempt on AWS.
    expect(l.usd.s3).toBeCloseTo((7 * PRICES.s3PutPer1000 + 3 * PRICES.s3GetPer1000) / 1000, 8);
    expect(l.dataApi.calls).toBe(3);
    expect(l.usd.total).toBeCloseTo(l.usd.fargate + l.usd.aurora + l.usd.s3 + l.usd.dataApi, 7);
    expect(l.s3StorageUsdPerMonth).toBeCloseTo(2 * PRICES.s3StorageGbMonth, 8);
    expect(l.prices).toEqual({ date: PRICES.date, region: PRICES.region });
  });

  it('bills from the image pull when the task knows it, and at least a minute', () => {
    const pulled = costLedger({ ...base, billedFrom: '2026-11-20T09:59:20.000Z' });
    expect(pulled.task.billedSeconds).toBe(340);
    expect(pulled.task.seconds).toBe(300);
    const short = costLedger({ ...base, finishedAt: '2026-11-20T10:00:12.000Z' });
    expect(short.task.billedSeconds).toBe(60);
    expect(short.task.vcpuSeconds).toBe(60);
  });

  it('adds the idle tail of a cluster the run woke, and counts only capacity above a standing minimum', () => {
    const woke = costLedger({ ...base, wokeCluster: true });
    expect(woke.aurora.acuSeconds).toBe(1200 + 300 * 0.5);
    expect(woke.aurora.basis).toMatch(/woke/);
    const standing = costLedger({
      ...base,
      database: { minAcu: 1, maxAcu: 4, autoPauseSeconds: 300 },
      wokeCluster: true,
    });
    expect(standing.aurora).toMatchObject({ acuSeconds: 900, wokeCluster: false });
  });

  it('prices a local run as the same task on AWS, with no Data API', () => {
    const l = costLedger({
      ...base,
      where: 'local',
      size: 'small',
      spec: DEFAULT_TASK_SIZES.small,
      attempts: 2,
    });
    expect(l.where).toBe('local');
    expect(l.task.vcpuSeconds).toBe(150);
    expect(l.dataApi.calls).toBe(0);
    expect(l.task.basis).toMatch(/this machine/);
  });

  it('counts Data API statements for every attempt on AWS', () => {
    expect(costLedger({ ...base, attempts: 3 }).dataApi.calls).toBe(9);
  });

  it('refuses a run without a start or with its end before its start', () => {
    expect(() => costLedger({ ...base, finishedAt: '2026-11-20T09:00:00.000Z' })).toThrow(/start and end/);
  });
});

describe('what the ledger counts and reads', () => {
  it('counts S3 requests as lib-storage makes them', () => {
    expect(s3PutRequestsFor(0)).toBe(1);
    expect(s3PutRequestsFor(8 * 1024 * 1024)).toBe(1);
    expect(s3PutRequestsFor(8 * 1024 * 1024 + 1)).toBe(4);
    expect(s3ListRequestsFor(0)).toBe(1);
    expect(s3ListRequestsFor(2500)).toBe(3);
  });

  it('takes a run recorded within two minutes of the server starting as its wake-up', () => {
    expect(wokeBy('2026-11-20T10:00:30.000Z', '2026-11-20T10:00:10.000Z')).toBe(true);
    expect(wokeBy('2026-11-20T10:05:00.000Z', '2026-11-20T10:00:10.000Z')).toBe(false);
    expect(wokeBy('2026-11-20T10:00:00.000Z', '2026-11-20T10:00:10.000Z')).toBe(false);
  });

  it('reads --since as a span back from now or a date', () => {
    const now = new Date('2026-11-23T12:00:00.000Z');
    expect(parseSince('30d', now).toISOString()).toBe('2026-10-24T12:00:00.000Z');
    expect(parseSince('12h', now).toISOString()).toBe('2026-11-23T00:00:00.000Z');
    expect(parseSince('2026-11-01', now).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(() => parseSince('soon', now)).toThrow(/--since "soon" is neither a duration/);
  });
});
