// The QA report as a person sees it: built for real (through the command line, then on the demo's data),
// opened in headless Chromium, read through its headings, tables and map pixels.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoFiles } from '../../runtime/catalog-files/demo-data.ts';
import { type Catalog, loadCatalogOrThrow } from '../../runtime/catalog-files/loader.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { readManifest } from '../../runtime/publish/versions.ts';
import { PALETTE } from '../../runtime/qa/palette.ts';
import { QaLocation, QaReport } from '../../runtime/qa/schema.ts';
import {
  type BrowserSession,
  browserSkipReason,
  countPixels,
  openBrowser,
  rgb,
  type Screenshot,
} from '../helpers/browser.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { SITES_DATASET, type Site, siteGrid, sitesCsv } from '../helpers/sites.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS_IMAGE = join(ROOT, 'docs', 'images', 'qa-report.png');
const skip = browserSkipReason();

/** Runs the command line as a person would; resolves with its exit code and output whatever the code. */
function strata(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'node',
      [join(ROOT, 'bin', 'strata.mjs'), ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * Waits until every map on the page says it has drawn. Through locators: a predicate given as a string would
 * be evaluated in the page, which its content security policy (no eval) refuses.
 */
async function mapsDrawn(page: Page): Promise<void> {
  const maps = await page.locator('[data-qa-map]').count();
  for (let i = 0; i < maps; i++) await page.locator('[data-qa-map][data-ready="true"]').nth(i).waitFor();
}

const grid = siteGrid;
const csv = sitesCsv;

describe.skipIf(skip !== undefined)('the QA report in a browser', () => {
  let browser: BrowserSession;
  beforeAll(async () => {
    browser = await openBrowser({ width: 1280, height: 900 });
  });
  afterAll(async () => browser?.close());

  describe.each(engines())('after two builds on $name', (engine) => {
    let p: TestPlatform;
    let catalog: Catalog;
    let args: string[];
    let n = 0;
    const ingest = async (rows: Site[]) => {
      const path = join(p.dir, `${++n}.csv`);
      await writeFile(path, csv(rows));
      await runIngest(p, catalog, {
        dataset: 'sites',
        path,
        filename: `${n}.csv`,
        origin: { kind: 'file', from: path },
      });
    };
    const build = async () =>
      workUntil(p, catalog, (await submit(p, { kind: 'build', product: 'site_list' }, { kind: 'cli' })).id);
    beforeAll(async () => {
      p = await testPlatform(engine);
      args = ['--home', p.dir, '--catalog', join(p.dir, 'catalog')];
      catalog = await writeCatalog(join(p.dir, 'catalog'), {
        datasets: {
          sites: SITES_DATASET,
        },
        products: {
          site_list: {
            product: {
              title: 'Sites and their visits',
              inputs: { sites: 'sites' },
              checks: [
                { type: 'unique', table: 'sites_out', columns: ['id'] },
                { type: 'row_count', table: 'sites_out', max: 70 },
                {
                  name: 'busy sites',
                  type: 'sql',
                  table: 'sites_out',
                  severity: 'warn',
                  sql: 'SELECT id, visits FROM sites_out WHERE visits > 100',
                },
              ],
              outputs: [{ table: 'sites_out', key: ['id'], orderBy: ['id'] }],
            },
            sql: { '010_out.sql': 'CREATE TABLE sites_out AS SELECT id, name, visits, geom FROM sites;' },
          },
        },
      });
    });
    afterAll(async () => p?.close());

    it('shows the counts, the changed rows and the changed features on the map, with no error and no request outside the page', async () => {
      // Prepare: version 1, then version 2 with six sites busier, two gone and three new.
      await ingest(grid());
      expect((await build()).status).toBe('succeeded');
      const next = grid().filter((s) => s.id !== 12 && s.id !== 45);
      const busier = [3, 17, 28, 33, 51, 58];
      for (const s of next) if (busier.includes(s.id)) s.visits += 200;
      next.push(
        { id: 61, name: 'new east', visits: 1, lon: 1.8, lat: 53.2 },
        { id: 62, name: 'new west', visits: 2, lon: -4.6, lat: 51.9 },
        { id: 63, name: 'new north', visits: 3, lon: -1, lat: 54.3 },
      );
      await ingest(next);
      const built = await build();
      expect(built.status).toBe('succeeded');

      // Act: find the report with the command line, as a person would, and open it.
      const where = await strata([...args, 'qa', 'site_list']);
      expect(where).toMatchObject({ code: 0, stderr: '' });
      const path = where.stdout.trim();
      expect(path).toBe(p.store.locate('egress', String(built.result?.qaReport)));
      const figures = QaReport.parse(
        JSON.parse((await strata([...args, 'qa', 'site_list', '--json'])).stdout),
      );
      const opened = await browser.open(pathToFileURL(path).href);
      const { page } = opened;
      await mapsDrawn(page);

      // Assess: what a person reads.
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain(
        'Sites and their visits',
      );
      await expect(page.locator('.status').textContent()).resolves.toContain(figures.version!);
      const output = page.locator('#output-sites_out');
      const shown = await output
        .locator('dl.figures > div')
        .evaluateAll((items) =>
          Object.fromEntries(
            items.map((d) => [d.querySelector('dt')?.textContent, d.querySelector('dd')?.textContent]),
          ),
        );
      expect(shown).toEqual({ Rows: '61+1', Added: '3', Removed: '2', Changed: '6', Unchanged: '52' });
      const changed = output.locator('table', { has: page.locator('caption', { hasText: 'Changed rows' }) });
      const changedIds = await changed.locator('tbody tr td:first-child').allTextContents();
      expect(changedIds.map(Number).sort((a, b) => a - b)).toEqual(busier);
      const removed = output.locator('table', { has: page.locator('caption', { hasText: 'Removed rows' }) });
      expect((await removed.locator('tbody td').allTextContents()).sort()).toEqual(['12', '45']);
      const checks = page
        .locator('#checks tbody tr')
        .filter({ has: page.locator('th', { hasText: 'busy sites' }) });
      await expect(checks.locator('.badge').textContent()).resolves.toBe('warning');
      await expect(checks.textContent()).resolves.toContain('6 offending row(s)');
      // The map: a canvas with the features drawn, the changed ones in their colour (pixels, not the DOM).
      const map = output.locator('[data-qa-map]');
      await expect(map.getAttribute('aria-label')).resolves.toBe(
        'Map of sites_out: 61 features drawn, 9 changed or added highlighted',
      );
      const shot = await opened.screenshot(`qa-report-map-${engine.name}`, map);
      expect(countPixels(shot, PALETTE.changed)).toBeGreaterThan(6 * 30);
      expect(countPixels(shot, PALETTE.added)).toBeGreaterThan(3 * 30);
      // Unchanged points are filled at 80% over the land's colour.
      expect(countPixels(shot, blend(PALETTE.unchanged, PALETTE.land, 0.8), 16)).toBeGreaterThan(52 * 10);
      expect(countPixels(shot, PALETTE.land, 3)).toBeGreaterThan(1000);
      // The keyboard reaches the skip link first.
      await page.keyboard.press('Tab');
      await expect(page.locator(':focus').textContent()).resolves.toBe('Skip to the report');
      // Clicking a highlighted feature tells what it is.
      await map.click({ position: clusterOf(shot, PALETTE.changed) });
      const popup = page.locator('.leaflet-popup-content');
      await expect(popup.locator('.qa-popup-status').textContent()).resolves.toBe('changed');
      const idRow = popup.locator('tr').filter({ has: page.locator('th', { hasText: /^id$/ }) });
      expect(busier).toContain(Number(await idRow.locator('td').textContent()));
      await page.locator('h1').scrollIntoViewIfNeeded();
      await opened.screenshot(`qa-report-${engine.name}`);
      expect(opened.errors).toEqual([]);
      expect(opened.outside).toEqual([]);
      await page.close();
    });

    it('shows why a build that failed its checks was not published', async () => {
      // Prepare: 80 sites break the row_count check.
      await ingest(Array.from({ length: 80 }, (_, i) => ({ ...grid()[i % 60]!, id: i + 1 })));
      const run = await build();
      expect(run.error).toMatchObject({ code: 'CHECK_FAILED' });
      // Act
      const where = QaLocation.parse(run.error?.qaReport);
      const path = p.store.locate(where.bucket, where.html);
      expect(path).toBe(join(p.dir, 'buckets', 'archive', 'runs', run.id, 'qa.html'));
      const opened = await browser.open(pathToFileURL(path).href);
      await mapsDrawn(opened.page);
      // Assess
      await expect(opened.page.locator('.status').textContent()).resolves.toContain('Not published');
      const failed = opened.page
        .locator('#checks tbody tr')
        .filter({ has: opened.page.locator('th', { hasText: 'row_count' }) });
      await expect(failed.locator('.badge').textContent()).resolves.toBe('failed');
      await expect(failed.textContent()).resolves.toContain('80 rows, expected <= 70');
      await opened.screenshot(`qa-report-failed-${engine.name}`);
      expect(opened.errors).toEqual([]);
      expect(opened.outside).toEqual([]);
      await opened.page.close();
    });
  });

  describe('of the demo product, after its places changed', () => {
    // The page is the same on either engine (the figures are tested on both above and in qa.test.ts): the demo's
    // data is built on one, the server when there is one, as it is faster there.
    const engine = engines().at(-1)!;

    it('highlights the counties whose places changed, on a map of real data', async () => {
      // Prepare: the demo's files; then places of Kansas gone, Florida's grown, new ones in Nevada.
      const p = await testPlatform(engine);
      try {
        const catalog = await loadCatalogOrThrow(join(ROOT, 'catalog'));
        const files = await writeDemoFiles(join(p.dir, 'demo'));
        const ingest = (dataset: string, path: string) =>
          runIngest(p, catalog, {
            dataset,
            path,
            filename: path.split('/').pop()!,
            origin: { kind: 'file', from: path },
          });
        const build = async () =>
          workUntil(
            p,
            catalog,
            (await submit(p, { kind: 'build', product: 'county_places' }, { kind: 'demo' })).id,
          );
        await ingest('us_counties', files.counties);
        await ingest('world_places', files.places);
        expect((await build()).status).toBe('succeeded');
        const places = parseCsv(await readFile(files.places, 'utf8'), { columns: true }) as Record<
          string,
          string
        >[];
        const changedPlaces = places
          .filter((r) => !(r.country === 'US' && r.admin_code === 'KS'))
          .map((r) =>
            r.country === 'US' && r.admin_code === 'FL'
              ? { ...r, population: String(Math.round(Number(r.population) * 1.1)) }
              : r,
          );
        for (let i = 0; i < 12; i++)
          changedPlaces.push({
            geoname_id: String(99_000_000 + i),
            name: `New Town ${i + 1}`,
            country: 'US',
            feature_code: 'PPL',
            admin_code: 'NV',
            population: String(1000 + i * 250),
            lon: String(-119.5 + (i % 4) * 1.1),
            lat: String(37.2 + Math.floor(i / 4) * 1.3),
          });
        const header = Object.keys(places[0]!);
        const v2 = join(p.dir, 'world_places_v2.csv');
        await writeFile(
          v2,
          `${header.join(',')}\n${changedPlaces.map((r) => header.map((h) => (/[",\n]/.test(r[h]!) ? `"${r[h]!.replace(/"/g, '""')}"` : r[h])).join(',')).join('\n')}\n`,
        );
        await ingest('world_places', v2);
        expect((await build()).status).toBe('succeeded');
        const m = await readManifest(p.store, 'county_places');
        // Act
        const opened = await browser.open(pathToFileURL(p.store.locate('egress', m.qa!.html)).href);
        await mapsDrawn(opened.page);
        // Assess: the counties of Kansas and Florida that hold places changed; Nevada's new towns are added.
        const summary = m.qa!.outputs.find((o) => o.name === 'county_summary')!;
        expect(summary.changed).toBeGreaterThan(100);
        expect(m.qa!.outputs.find((o) => o.name === 'us_places')).toMatchObject({ added: 12 });
        const countyMap = opened.page.locator('#map-county_summary');
        const shot = await opened.screenshot('qa-report-demo-map', countyMap);
        // A changed county is filled at 75% over the land's colour.
        expect(countPixels(shot, blend(PALETTE.changed, PALETTE.land, 0.75), 12)).toBeGreaterThan(1500);
        await opened.page.locator('h1').scrollIntoViewIfNeeded();
        await opened.screenshot('qa-report-demo');
        expect(opened.errors).toEqual([]);
        expect(opened.outside).toEqual([]);
        // `STRATA_UPDATE_DOCS_IMAGES=1 npx vitest run test/browser` refreshes docs/qa-reports.md's picture from here.
        if (process.env.STRATA_UPDATE_DOCS_IMAGES) {
          await mkdir(join(ROOT, 'docs', 'images'), { recursive: true });
          // The county section from its heading to its first table of changed rows: figures, chart, map.
          const section = (await opened.page.locator('#output-county_summary').boundingBox())!;
          const rows = (await opened.page
            .locator('#output-county_summary table.rows')
            .first()
            .boundingBox())!;
          const clip = {
            x: section.x - 12,
            y: section.y - 12,
            width: section.width + 24,
            height: rows.y + rows.height - section.y + 36,
          };
          await writeFile(DOCS_IMAGE, await opened.page.screenshot({ fullPage: true, clip }));
        }
        await opened.page.close();
      } finally {
        await p.close();
      }
    }, 600_000);
  });
});

/** `top` painted over `bottom` with an opacity, as the canvas blends it. */
function blend(top: string, bottom: string, alpha: number): string {
  const [a, b] = [rgb(top), rgb(bottom)];
  return `#${a
    .map((v, i) =>
      Math.round(v * alpha + b[i]! * (1 - alpha))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

/** The middle of the first blob of a colour in a screenshot, to click on it. */
function clusterOf(shot: Screenshot, color: string) {
  const { width, height, data } = shot.png;
  const [r, g, b] = rgb(color);
  const hit = (x: number, y: number) => {
    const i = (y * width + x) * 4;
    return Math.abs(data[i]! - r) < 24 && Math.abs(data[i + 1]! - g) < 24 && Math.abs(data[i + 2]! - b) < 24;
  };
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (hit(x, y)) {
        let sx = 0;
        let sy = 0;
        let n = 0;
        for (let yy = y; yy < Math.min(height, y + 12); yy++)
          for (let xx = Math.max(0, x - 8); xx < Math.min(width, x + 8); xx++)
            if (hit(xx, yy)) {
              sx += xx;
              sy += yy;
              n++;
            }
        return { x: Math.round(sx / n), y: Math.round(sy / n) };
      }
  throw new Error(`no pixel of ${color} in the screenshot`);
}
