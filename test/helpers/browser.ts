// Headless Chromium for tests that look at pages as a person would: Debian's `chromium` driven by
// playwright-core (browsers cannot be downloaded here), a fresh profile per session, every request and console
// error recorded, screenshots saved under test-output/screenshots/ and read back as pixels.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { PNG } from 'pngjs';

/** Where screenshots go (git-ignored); tests look at them, and people can too. */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** `STRATA_CHROMIUM`, or the first Chromium installed where Debian and Ubuntu put it. */
export function findChromium(): string | undefined {
  const own = process.env.STRATA_CHROMIUM;
  if (own) return existsSync(own) ? own : undefined;
  return CANDIDATES.find((c) => existsSync(c));
}

/**
 * Why browser tests cannot run here, printed, or undefined when they can. Only a machine with no Chromium
 * skips them: in CI (`CI` set), a missing Chromium is an error, since CI installs it.
 */
export function browserSkipReason(): string | undefined {
  if (findChromium()) return undefined;
  const reason = `no Chromium at ${process.env.STRATA_CHROMIUM ?? CANDIDATES.join(', ')}; install Debian's chromium package (apt-get install chromium) to run the browser tests`;
  if (process.env.CI) throw new Error(`CI runs the browser tests, but there is ${reason}`);
  process.stderr.write(`skipping browser tests: ${reason}\n`);
  return reason;
}

export interface OpenedPage {
  readonly page: Page;
  /** Console errors and uncaught exceptions, as they happened. */
  readonly errors: string[];
  /**
   * Requests for anything but the page itself (or, for a site, its own origin) and data: or blob: URLs; each
   * was refused.
   */
  readonly outside: string[];
  /** Saves a screenshot (of the whole page, or of one element) as `<name>.png` and returns its pixels. */
  screenshot(name: string, target?: Locator): Promise<Screenshot>;
}

export interface Screenshot {
  readonly path: string;
  readonly png: PNG;
}

export interface BrowserSession {
  /**
   * Opens a URL (a file:// report, a local server's page) and waits for its load event. `site`: the page may
   * follow links and send forms within its own origin (a local server's pages), and nowhere else; `also`:
   * other origins it may reach too (an identity provider the site sends the browser to).
   */
  open(url: string, options?: { site?: boolean; also?: readonly string[] }): Promise<OpenedPage>;
  close(): Promise<void>;
}

export async function openBrowser(
  options: { width?: number; height?: number } = {},
): Promise<BrowserSession> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(browserSkipReason() ?? 'no Chromium');
  const profile = await mkdtemp(join(tmpdir(), 'strata-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-dev-shm-usage',
      ],
      viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
      deviceScaleFactor: 1,
      colorScheme: 'light',
      reducedMotion: 'reduce',
    });
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw e;
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  return {
    async open(url, options = {}) {
      const page = await context.newPage();
      const errors: string[] = [];
      const outside: string[] = [];
      const site = new URL(url).origin;
      const own = (u: string) =>
        u === url ||
        u.split('#')[0] === url.split('#')[0] ||
        /^(data|blob|about):/.test(u) ||
        (options.site === true && u.startsWith(`${site}/`)) ||
        (options.also ?? []).some((o) => u.startsWith(`${o}/`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => {
        if (!own(r.url())) outside.push(r.url());
      });
      await page.route('**/*', (route) =>
        own(route.request().url()) ? route.continue() : route.abort('blockedbyclient'),
      );
      await page.goto(url, { waitUntil: 'load' });
      return {
        page,
        errors,
        outside,
        async screenshot(name, target) {
          const bytes = target
            ? await target.screenshot({ animations: 'disabled' })
            : await page.screenshot({ fullPage: true, animations: 'disabled' });
          const path = join(SCREENSHOTS, `${name}.png`);
          await writeFile(path, bytes);
          return { path, png: PNG.sync.read(bytes) };
        },
      };
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** `#rrggbb` as [r, g, b]. */
export function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** How many pixels of a screenshot are within `tolerance` (per channel) of a colour. */
export function countPixels(shot: Screenshot, color: string, tolerance = 24): number {
  const [r, g, b] = rgb(color);
  const { data } = shot.png;
  let n = 0;
  for (let i = 0; i < data.length; i += 4)
    if (
      Math.abs(data[i]! - r) <= tolerance &&
      Math.abs(data[i + 1]! - g) <= tolerance &&
      Math.abs(data[i + 2]! - b) <= tolerance
    )
      n++;
  return n;
}
