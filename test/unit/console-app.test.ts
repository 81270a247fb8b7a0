import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { MemoryNonceStore, MemoryRateLimiter } from '../../runtime/adapters/local/memory-guards.ts';
import { createApp } from '../../runtime/http/app.ts';
import { emptyDirectory } from '../../runtime/partners/credentials.ts';
import type { JobQueue } from '../../runtime/ports/job-queue.ts';
import type { RunRegistry } from '../../runtime/runs/registry.ts';
import { LocalUrlSigner } from '../../runtime/web/urls.ts';

/** The app as `strata serve` makes it, whose run registry fails every call and whose log is kept. */
function appWithFailingRuns() {
  const logged: { message: string; detail?: Record<string, unknown> }[] = [];
  const doc = emptyDirectory();
  const failing = new Proxy({}, { get: () => () => Promise.reject(new Error('the registry broke')) });
  const app = createApp({
    catalog: { dir: '', datasets: new Map(), products: new Map() },
    store: new FsObjectStore('/nonexistent'),
    runs: failing as RunRegistry,
    queue: failing as JobQueue,
    partners: { where: 'none', read: async () => doc, update: async () => doc },
    nonces: new MemoryNonceStore(),
    rateLimiter: new MemoryRateLimiter(),
    urls: new LocalUrlSigner({ download: 1, upload: 1 }),
    maxUploadBytes: 1,
    local: { webhookSecrets: new Map(), operatorsOnLoopback: true },
    log: (message, detail) => logged.push({ message, detail }),
  });
  return { app, logged };
}

const get = (app: ReturnType<typeof createApp>, path: string, method = 'GET') =>
  app.request(`http://127.0.0.1${path}`, { method });

describe('the console, mounted on the HTTP application', () => {
  it('answers its own unknown paths and methods with a page, and the partner API its own with a problem', async () => {
    // Prepare
    const { app } = appWithFailingRuns();
    // Act
    const page = await get(app, '/console/nowhere');
    const method = await get(app, '/console', 'POST');
    const api = await get(app, '/nowhere');
    const beside = await get(app, '/consoles');
    // Assess
    for (const res of [page, method]) {
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    }
    expect(await page.text()).toContain('no route GET /console/nowhere');
    expect(await method.text()).toContain('no route POST /console');
    for (const res of [api, beside]) {
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    expect(JSON.parse(await beside.text()).detail).toBe('no route GET /consoles');
  });

  it('refuses a bad parameter with a page that names it', async () => {
    // Prepare
    const { app } = appWithFailingRuns();
    // Act
    const res = await get(app, '/console/runs?limit=0');
    // Assess
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('query limit');
  });

  it('shows an internal failure as a page that says nothing of the inside, and logs where it happened', async () => {
    // Prepare
    const { app, logged } = appWithFailingRuns();
    // Act
    const res = await get(app, '/console/runs');
    const text = await res.text();
    // Assess
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(text).toContain('an internal error occurred; the operators have been told');
    expect(text).not.toContain('the registry broke');
    expect(logged).toEqual([
      {
        message: 'request failed',
        detail: { path: '/console/runs', error: expect.stringContaining('the registry broke') },
      },
    ]);
  });
});
