// The partner portal as partner staff use it: `strata serve` on a home made by the normal paths, an
// organisation's login (oidc-provider on 127.0.0.1), headless Chromium. Sign in through the issuer, send a good
// file and a bad one from the page (a presigned PUT to serve's bucket endpoint), watch both receipts arrive,
// download a GeoPackage; markup in a file's name and values stays text; no console error, and no request
// anywhere but the portal's own origin and the issuer.
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PALETTE } from '../../runtime/qa/palette.ts';
import { type Serving, serve } from '../../runtime/serve/serve.ts';
import {
  type BrowserSession,
  browserSkipReason,
  countPixels,
  type OpenedPage,
  openBrowser,
} from '../helpers/browser.ts';
import { type ConsoleHome, consoleHome, refusedGrid } from '../helpers/console.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { PARTNER_CLAIM, startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';
import { MemoryDirectory } from '../helpers/partner-api.ts';
import { siteGrid, sitesCsv } from '../helpers/sites.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS_IMAGE = join(ROOT, 'docs', 'images', 'portal.png');
const skip = browserSkipReason();

/** A port nobody listens on now, for a server whose address the issuer must know before it starts. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Chooses a file on the page's form as a person does, sends it, and waits for its receipt to arrive. */
async function send(page: Page, file: { name: string; text: string }): Promise<string> {
  await page
    .getByLabel(/The file/)
    .setInputFiles({ name: file.name, mimeType: 'text/csv', buffer: Buffer.from(file.text) });
  await page.getByRole('button', { name: 'Send' }).click();
  await page.waitForURL(/\/uploads\/u[0-9a-f]{12}-/);
  // The page follows the ingest by itself (its script); a receipt is there once the ingest has ended.
  await page.getByRole('heading', { level: 2, name: 'Receipt' }).waitFor({ timeout: 60_000 });
  return page.locator('main').innerText();
}

describe.skipIf(skip !== undefined)('the partner portal in a browser', () => {
  let browser: BrowserSession;
  beforeAll(async () => {
    browser = await openBrowser({ width: 1280, height: 900 });
  });
  afterAll(async () => browser?.close());

  describe.each(engines())('on strata serve with $name', (engine) => {
    let p: TestPlatform;
    let home: ConsoleHome;
    let serving: Serving;
    let issuer: TestIssuer;
    let base: string;
    let opened: OpenedPage;
    const partners = new MemoryDirectory();
    partners.add('acme', ['upload:datasets/sites', 'read:products/site_list']);

    beforeAll(async () => {
      p = await testPlatform(engine);
      home = await consoleHome(p, { siteListFormats: ['csv', 'geojson', 'flatgeobuf', 'gpkg'] });
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      issuer = await startTestIssuer([`${base}/portal/login/oidc/callback`]);
      issuer.signInAs('ann', { email: 'ann@council.example', [PARTNER_CLAIM]: 'acme' });
      serving = await serve(p, home.catalog, {
        port,
        workers: 1,
        pollMs: 100,
        maxUploadBytes: 10 * 1024 * 1024,
        quietMs: 200,
        webhookSecrets: new Map(),
        partners,
        portalSignIn: {
          issuer: issuer.issuer,
          clientId: issuer.clientId,
          clientSecret: issuer.clientSecret,
          partnerClaim: PARTNER_CLAIM,
          label: 'Council login',
        },
        staleSeconds: 600,
        log: () => {},
      });
      opened = await browser.open(`${base}/portal`, { site: true, also: [issuer.issuer] });
    }, 300_000);
    afterAll(async () => {
      await opened?.page.close().catch(() => {});
      await serving?.stop();
      await issuer?.close();
      await p?.close();
    });

    it("signs in through the organisation's login and shows only the partner's dataset and product", async () => {
      // Prepare
      const { page } = opened;
      await page.getByRole('heading', { level: 1, name: 'Sign in to the partner portal' }).waitFor();
      // Act
      await page.getByRole('button', { name: 'Sign in with Council login' }).click();
      await page.getByRole('heading', { level: 1, name: /Your data/ }).waitFor();
      const text = await page.locator('main').innerText();
      // Assess
      expect(new URL(page.url()).pathname).toBe('/portal');
      expect(await page.locator('.who').innerText()).toContain('Signed in as ann@council.example for acme');
      expect(text).toContain('Sites people visit');
      expect(text).toContain('Sites and their visits');
      expect(text).not.toMatch(/regions/i);
    });

    it('sends a good file and shows its receipt: accepted, rows, columns, CRS and extent', async () => {
      // Prepare
      const { page } = opened;
      await page.getByRole('link', { name: 'Send data' }).click();
      await page.getByRole('link', { name: 'Sites people visit' }).click();
      const busier = siteGrid().map((s) => (s.id === 5 ? { ...s, visits: s.visits + 7 } : s));
      // Act
      const receipt = await send(page, { name: 'sites may.csv', text: sitesCsv(busier) });
      // Assess
      expect(receipt).toMatch(/Status:\s+accepted/);
      expect(receipt).toMatch(/accepted/);
      expect(receipt).toMatch(/Rows\s+60/);
      expect(receipt).toMatch(/CRS\s+EPSG:4326/);
      expect(receipt).toMatch(/Extent\s+-?\d/);
      expect(receipt).toMatch(/Columns\s+id integer, name text, visits integer/);
      await opened.screenshot('portal-receipt-accepted');
    });

    it('sends a bad file and shows every problem with its lines, its name and values as text', async () => {
      // Prepare: two sites out of the dataset's box, and markup where a number should be.
      const { page } = opened;
      await page.getByRole('link', { name: 'Send data' }).click();
      await page.getByRole('link', { name: 'Sites people visit' }).click();
      const rows = sitesCsv(refusedGrid()).split('\n');
      rows[3] = rows[3]!.replace(/^(\d+),([^,]*),(\d+),/, '$1,$2,<img src=x onerror=window.__xss=1>,');
      // Act
      const receipt = await send(page, {
        name: '<img src=x onerror=window.__xss=2>.csv',
        text: rows.join('\n'),
      });
      const shot = await opened.screenshot('portal-receipt-refused');
      // Assess
      // Quarantined, not "failed": for its sender the file was received and kept, with what to mend.
      expect(receipt).toMatch(/Status:\s+quarantined/);
      expect(receipt).toMatch(/bbox/);
      expect(receipt).toMatch(/type/);
      expect(receipt).toContain('line 4');
      expect(receipt).toContain('<img src=x onerror=window.__xss=1>');
      expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
      expect(await page.locator('main img').count()).toBe(0);
      if (process.env.STRATA_UPDATE_DOCS_IMAGES && engine.name === 'pglite') {
        await mkdir(dirname(DOCS_IMAGE), { recursive: true });
        await copyFile(shot.path, DOCS_IMAGE);
      }
    });

    it('lists both uploads with their receipts', async () => {
      // Act
      const { page } = opened;
      await page.getByRole('link', { name: /Back to sites/ }).click();
      const table = page.locator('table', {
        has: page.locator('caption', { hasText: 'Your uploads to sites' }),
      });
      const rows = await table.locator('tbody tr').allInnerTexts();
      // Assess
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatch(/quarantined\s+quarantined: 3 kind\(s\) of problem/);
      expect(rows[1]).toMatch(/accepted\s+version \S+, 60 rows/);
    });

    it('downloads a GeoPackage of the product, and offers its OGC API address to copy', async () => {
      // Prepare
      const { page } = opened;
      await page.getByRole('link', { name: 'Download' }).click();
      await page.getByRole('link', { name: 'Sites and their visits' }).click();
      // Act
      const download = page.waitForEvent('download');
      await page
        .getByRole('link', { name: /sites_out\.gpkg/ })
        .first()
        .click();
      const bytes = await readFile((await (await download).path())!);
      // Assess
      expect(bytes.subarray(0, 15).toString('latin1')).toBe('SQLite format 3');
      expect(await page.locator('#ogc-api').innerText()).toBe(base);
      expect(await page.getByRole('button', { name: 'Copy the address' }).isVisible()).toBe(true);
      expect(opened.errors).toEqual([]);
      expect(opened.outside).toEqual([]);
    });

    it("shows the latest version on a map, the QA report's, with nothing fetched from outside", async () => {
      // Act
      const { page } = opened;
      await page
        .getByRole('link', { name: /On a map, with its changes/ })
        .first()
        .click();
      await page.locator('.leaflet-container').waitFor();
      await page.locator('.leaflet-container canvas').first().waitFor();
      const shot = await opened.screenshot('portal-map', page.locator('.leaflet-container').first());
      // Assess: the map has drawn something of the data's colours, and nothing but the page was asked for.
      expect(countPixels(shot, PALETTE.unchanged) + countPixels(shot, PALETTE.added)).toBeGreaterThan(50);
      expect(opened.errors).toEqual([]);
      expect(opened.outside).toEqual([]);
    });

    it('reads as labelled forms to a screen reader, and signs out with the keyboard alone', async () => {
      // Prepare
      const { page } = opened;
      await page.goto(`${base}/portal/datasets/sites`);
      const uploadForm = await page.locator('form#upload').ariaSnapshot();
      // Act: from the top of the page, Tab to "Sign out" and press Enter.
      await page.locator('body').focus();
      const signOut = page.getByRole('button', { name: 'Sign out' });
      for (let i = 0; i < 20 && !(await signOut.evaluate((el) => el.matches(':focus'))); i++)
        await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Sign in to the partner portal' }).waitFor();
      const signInForms = await page.locator('main').ariaSnapshot();
      const again = await page.goto(`${base}/portal`);
      // Assess
      expect(uploadForm).toMatch(/button "The file \(csv, up to [^)]+\), chosen or dropped here"/);
      expect(uploadForm).toContain('button "Send"');
      expect(signInForms).toContain('button "Sign in with Council login"');
      expect(signInForms).toContain('textbox "API key"');
      expect(signInForms).toContain('button "Sign in"');
      expect(new URL(again!.url()).pathname).toBe('/portal/login');
      expect(opened.errors).toEqual([]);
    });
  });
});
