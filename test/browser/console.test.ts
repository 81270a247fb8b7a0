// The console as a person uses it: `strata serve` running on a home made by the normal paths (two builds, the
// second with changed rows; a file in quarantine; a build that failed), opened in headless Chromium, read
// through its headings, tables and buttons, a QA report's map read as pixels, a retry clicked and a release
// done with the keyboard alone; no console error, no request outside the console's own origin.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workUntil } from '../../runtime/jobs/execute.ts';
import {
  createSubscription,
  newSubscriptionId,
  recentDeliveries,
} from '../../runtime/partners/subscriptions.ts';
import { PALETTE } from '../../runtime/qa/palette.ts';
import { type Serving, serve } from '../../runtime/serve/serve.ts';
import {
  type BrowserSession,
  browserSkipReason,
  countPixels,
  type OpenedPage,
  openBrowser,
} from '../helpers/browser.ts';
import { type ConsoleHome, consoleHome } from '../helpers/console.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { until } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS_IMAGE = join(ROOT, 'docs', 'images', 'console.png');
const skip = browserSkipReason();

/** The rows of a table (found by its caption) as the text of their cells, as laid out. */
async function rowsOf(page: Page, caption: string | RegExp): Promise<string[][]> {
  const table = page.locator('table', { has: page.locator('caption', { hasText: caption }) });
  return table
    .locator('tbody tr')
    .evaluateAll((rows) =>
      rows.map((r) =>
        [...r.querySelectorAll('th, td')].map((c) =>
          (c as unknown as { innerText: string }).innerText.replace(/\s+/g, ' ').trim(),
        ),
      ),
    );
}

/** Presses Tab until the focused element is `target`; fails after `max` presses. */
async function tabTo(page: Page, target: Locator, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el) => el.matches(':focus'))) return;
  }
  throw new Error(`${max} presses of Tab did not reach ${target}`);
}

/** Whether the focused element shows it: an outline that is drawn, and not transparent. */
const focusVisible = (page: Page) =>
  page.locator(':focus').evaluate((el) => {
    const s = el.ownerDocument.defaultView!.getComputedStyle(el);
    return s.outlineStyle !== 'none' && Number.parseFloat(s.outlineWidth) >= 2;
  });

describe.skipIf(skip !== undefined)('the console in a browser', () => {
  let browser: BrowserSession;
  beforeAll(async () => {
    browser = await openBrowser({ width: 1280, height: 900 });
  });
  afterAll(async () => browser?.close());

  describe.each(engines())('on strata serve with $name', (engine) => {
    let p: TestPlatform;
    let home: ConsoleHome;
    let serving: Serving;
    let base: string;
    let hook: Server;
    let subscriptionId: string;
    const opened: OpenedPage[] = [];
    const open = async (path: string) => {
      const o = await browser.open(`${base}${path}`, { site: true });
      opened.push(o);
      return o;
    };

    beforeAll(async () => {
      p = await testPlatform(engine);
      home = await consoleHome(p);
      // No worker of its own: the test works the queue when it chooses, so it sees each page before the run is
      // worked and after, whatever the machine's speed.
      serving = await serve(p, home.catalog, {
        port: 0,
        workers: 0,
        pollMs: 200,
        maxUploadBytes: 10 * 1024 * 1024,
        quietMs: 500,
        webhookSecrets: new Map(),
        staleSeconds: 600,
        log: () => {},
      });
      base = `http://127.0.0.1:${serving.port}`;
      // A partner's callback, subscribed to the product whose failed build is retried below: its publish is
      // notified, and serve delivers it here.
      hook = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(204).end());
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      subscriptionId = newSubscriptionId();
      await createSubscription(p.db, {
        id: subscriptionId,
        partner: 'rangers',
        url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
        products: ['site_regions'],
        secret: `whsec_${randomBytes(24).toString('base64')}`,
        apiBase: base,
      });
    }, 300_000);
    afterAll(async () => {
      for (const o of opened) await o.page.close().catch(() => {});
      hook?.close();
      await serving?.stop();
      await p?.close();
    });

    it('shows the datasets, the current version marked, and the quarantined file with its problems', async () => {
      // Act
      const { page, screenshot } = await open('/console');
      await page.getByRole('link', { name: 'sites', exact: true }).first().click();
      await page.getByRole('heading', { level: 1, name: /sites/ }).waitFor();
      // Assess
      const [v1, v2] = home.ingests.map((r) => String(r.result?.version));
      const versions = await rowsOf(page, /^Versions of sites/);
      expect(versions.map((r) => r[0])).toEqual([`${v2} current`, v1]);
      const history = await rowsOf(page, /^Every move of the current version/);
      expect(history.map((r) => [r[1], r[2]])).toEqual([
        ['sent', v2],
        ['sent', v1],
      ]);
      const card = page.getByRole('region', { name: /sites-3\.csv/ });
      const problems = await rowsOf(page, /^What the contract found in sites-3\.csv/);
      expect(problems.map((r) => [r[0], r[2]])).toEqual(
        expect.arrayContaining([
          ['bbox', '2'],
          ['fewer_rows', expect.any(String)],
        ]),
      );
      await expect(
        card.getByRole('textbox', { name: 'Reason for releasing sites-3.csv' }).isVisible(),
      ).resolves.toBe(true);
      await screenshot(`console-dataset-${engine.name}`);
    });

    it("shows the product's versions, and a QA report whose map draws the changed features", async () => {
      // Prepare
      const { page, screenshot } = await open('/console/products');
      await page.getByRole('link', { name: 'site_list', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: /site_list/ }).waitFor();
      const [b1, b2] = home.builds.map((r) => String(r.result?.version));
      // Act
      const versions = await rowsOf(page, /^Published versions of site_list/);
      await screenshot(`console-product-${engine.name}`);
      const download = page.waitForEvent('download');
      await page.getByRole('link', { name: `csv of sites_out, version ${b2}`, exact: false }).click();
      const csv = await readFile((await (await download).path())!, 'utf8');
      await page.getByRole('link', { name: `QA report of version ${b2}` }).click();
      const map = page.locator('[data-qa-map][data-ready="true"]').first();
      await map.waitFor();
      const shot = await screenshot(`console-qa-map-${engine.name}`, page.locator('[data-qa-map]').first());
      // Assess
      expect(versions.map((r) => r[0]?.split(' ')[0])).toEqual([b2, b1]);
      expect(versions[0]![0]).toContain('latest');
      expect(versions[0]![3]).toContain('sites_out: 61 rows (+3, −2, 6 changed)');
      expect(csv.split('\n')[0]).toBe('id,name,visits,geometry');
      expect(csv.trim().split('\n')).toHaveLength(62);
      await expect(page.locator('.status').textContent()).resolves.toContain(b2);
      expect(countPixels(shot, PALETTE.changed)).toBeGreaterThan(6 * 30);
      expect(countPixels(shot, PALETTE.added)).toBeGreaterThan(3 * 30);
    });

    it('draws the lineage graph: datasets left of what reads them, coloured by freshness and last run', async () => {
      // Prepare: site_regions' build failed (regions had no version when it ran); site_list is on time.
      const { page, screenshot } = await open('/console');
      await page.getByRole('link', { name: 'Lineage' }).click();
      const graph = page.locator('svg#lineage-graph');
      await graph.waitFor();
      // Act
      const nodes = await graph.locator('[data-node]').evaluateAll((els) =>
        els.map((el) => {
          const box = el.querySelector('rect')!.getBoundingClientRect();
          return { id: el.getAttribute('data-node'), x: box.x, cls: el.getAttribute('class') };
        }),
      );
      const edges = await graph
        .locator('path.g-edge')
        .evaluateAll((els) =>
          els.map((el) => `${el.getAttribute('data-from')} > ${el.getAttribute('data-to')}`),
        );
      const shot = await screenshot(`console-graph-${engine.name}`);
      const x = (id: string) => nodes.find((n) => n.id === id)!.x;
      // Assess: every dataset and product once, each input an arrow, read things to the left of readers.
      expect(nodes.map((n) => n.id).sort()).toEqual([
        'dataset:regions',
        'dataset:sites',
        'product:site_list',
        'product:site_regions',
      ]);
      expect(edges.sort()).toEqual([
        'dataset:regions > product:site_regions',
        'dataset:sites > product:site_list',
        'dataset:sites > product:site_regions',
      ]);
      expect(x('dataset:sites')).toBe(x('dataset:regions'));
      expect(x('product:site_list')).toBeGreaterThan(x('dataset:sites'));
      expect(nodes.find((n) => n.id === 'product:site_regions')!.cls).toContain('g-failed');
      expect(nodes.find((n) => n.id === 'product:site_list')!.cls).toMatch(/\bg-ok\b/);
      await expect(
        page.getByRole('link', { name: /^site_regions, product, never published, last run failed/ }).count(),
      ).resolves.toBe(1);
      const table = await rowsOf(page, /^Datasets and products, what each reads/);
      expect(table.find((r) => r[0] === 'site_regions')?.slice(2)).toEqual([
        'sites as sites at latest, regions as regions at latest',
        '—',
        'never published',
        'failed',
      ]);
      // A box opens its node's page, with the keyboard too.
      await tabTo(page, page.locator('[data-node="product:site_list"]'));
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: /site_list/ }).waitFor();
      // `STRATA_UPDATE_DOCS_IMAGES=1 npx vitest run test/browser` refreshes docs/console.md's picture of it.
      if (process.env.STRATA_UPDATE_DOCS_IMAGES && engine.name === 'pglite') {
        await mkdir(dirname(DOCS_IMAGE), { recursive: true });
        await copyFile(shot.path, join(dirname(DOCS_IMAGE), 'console-graph.png'));
      }
    });

    it('retries the failed run with a click, and follows it until it has succeeded', async () => {
      // Prepare
      const { page, screenshot } = await open('/console/runs');
      const rows = await rowsOf(page, /runs?.*newest first/);
      const failed = rows.filter((r) => r[2] === 'failed').map((r) => r[1]);
      expect(failed.sort()).toEqual(['build site_regions cli by ann', 'ingest sites cli by ann']);
      await screenshot(`console-runs-${engine.name}`);
      // Act
      await page.getByRole('button', { name: `Retry run ${home.failed.id} (build site_regions)` }).click();
      await page.locator('.notice', { hasText: 'Sent again' }).waitFor();
      const queued = await page.locator('#run-status .badge').textContent();
      await workUntil(p, home.catalog, home.failed.id, {}, 50);
      await page.locator('#run-status[data-watch-status="succeeded"]').waitFor({ timeout: 60_000 });
      // Assess: the page followed the run by itself, and said so to screen readers.
      expect(queued).toBe('queued');
      await expect(page.locator('#run-status .badge').textContent()).resolves.toBe('succeeded');
      await expect(page.locator('#live').textContent()).resolves.toBe('Status now: succeeded.');
      const attempts = await rowsOf(page, /^Every attempt of the run/);
      expect(attempts.map((r) => r[4])).toEqual(['failed', 'sent again', 'succeeded']);
      await expect(page.getByRole('button', { name: 'Retry this run' }).count()).resolves.toBe(0);
      await screenshot(`console-run-${engine.name}`);
      const overview = await open('/console');
      const fresh = await rowsOf(overview.page, /^Freshness/);
      expect(fresh.find((r) => r[0] === 'site_regions')?.[1]).toBe('no schedule');
      expect(fresh.find((r) => r[0] === 'site_list')?.[1]).toBe('on time');
      const shot = await overview.screenshot(`console-overview-${engine.name}`);
      // `STRATA_UPDATE_DOCS_IMAGES=1 npx vitest run test/browser` refreshes docs/console.md's picture from here.
      if (process.env.STRATA_UPDATE_DOCS_IMAGES && engine.name === 'pglite') {
        await mkdir(dirname(DOCS_IMAGE), { recursive: true });
        await copyFile(shot.path, DOCS_IMAGE);
      }
    });

    it("lists the partners' subscriptions and the delivery of the retried build's notification", async () => {
      // Prepare: the retried build published site_regions; serve delivers its notification to the hook.
      const [delivered] = await until('the notification to be delivered', async () => {
        const attempts = await recentDeliveries(p.db, { subscriptionId, limit: 10 });
        return attempts.some((a) => a.status === 'delivered') ? attempts : undefined;
      });
      // Act
      const { page, screenshot } = await open('/console/notifications');
      // Assess
      await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
      const subscriptions = await rowsOf(page, /subscription\(s\), oldest first/);
      expect(subscriptions).toHaveLength(1);
      expect(subscriptions[0]!.slice(0, 6)).toEqual([
        subscriptionId,
        'rangers',
        expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/hook$/),
        'site_regions',
        'active',
        '0',
      ]);
      const deliveries = await rowsOf(page, /latest delivery attempts, newest first/);
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]!.slice(1)).toEqual([
        'rangers',
        `site_regions ${delivered!.version}`,
        '1',
        '204',
        'delivered',
      ]);
      // The secret is shown once, to the partner that subscribed; never here.
      await expect(page.content()).resolves.not.toContain('whsec_');
      await screenshot(`console-notifications-${engine.name}`);
    });

    it('releases the quarantined file with a reason, with the keyboard alone, with focus always visible', async () => {
      // Prepare
      const { page, screenshot } = await open('/console');
      await page.keyboard.press('Tab');
      await expect(page.locator(':focus').textContent()).resolves.toBe('Skip to the content');
      await tabTo(page, page.getByRole('link', { name: 'Datasets' }));
      expect(await focusVisible(page)).toBe(true);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Datasets' }).waitFor();
      await tabTo(page, page.getByRole('link', { name: 'sites', exact: true }));
      await page.keyboard.press('Enter');
      const reason = page.getByRole('textbox', { name: 'Reason for releasing sites-3.csv' });
      await reason.waitFor();
      // Act
      await tabTo(page, reason);
      expect(await focusVisible(page)).toBe(true);
      await page.keyboard.type('fewer sites this season; the two far east are the new ferry ports');
      await page.keyboard.press('Tab');
      await expect(page.locator(':focus').textContent()).resolves.toMatch(/^Release sites-3\.csv/);
      expect(await focusVisible(page)).toBe(true);
      await page.keyboard.press('Enter');
      await page.locator('#run-status[data-watch-status="queued"]').waitFor();
      const run = page.url().split('/').pop()!;
      await workUntil(p, home.catalog, run, {}, 50);
      await page.locator('#run-status[data-watch-status="succeeded"]').waitFor({ timeout: 60_000 });
      await page.goto(`${base}/console/datasets/sites`);
      // Assess
      const id = String((home.quarantined.error!.receipt as { version: string }).version);
      const versions = await rowsOf(page, /^Versions of sites/);
      expect(versions[0]![0]).toBe(`${id} current`);
      await expect(page.getByText('No file is waiting in quarantine.').isVisible()).resolves.toBe(true);
      const released = await rowsOf(page, /^Files released from quarantine/);
      expect(released[0]).toEqual(
        expect.arrayContaining([
          'sites-3.csv',
          id,
          'fewer sites this season; the two far east are the new ferry ports',
        ]),
      );
      await screenshot(`console-released-${engine.name}`);
    });

    it('met no console error and asked for nothing outside its own origin', () => {
      expect(opened.flatMap((o) => o.errors)).toEqual([]);
      expect(opened.flatMap((o) => o.outside)).toEqual([]);
    });
  });
});
