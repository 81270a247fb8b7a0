import { afterEach, describe, expect, it, vi } from 'vitest';
import { getJson, lambdaUrlRegion } from '../../runtime/aws/signed-fetch.ts';

const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });

describe('GET from the core', () => {
  afterEach(() => vi.restoreAllMocks());

  it("signs a request to a Lambda function URL with SigV4 for the URL's region", async () => {
    // Prepare
    const seen: Headers[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (_url, init) => {
      seen.push(new Headers(init?.headers));
      return new Response(JSON.stringify({ children: [] }), { status: 200 });
    });
    const url = new URL('https://abcdef123.lambda-url.eu-west-2.on.aws/status');

    // Act
    const res = await getJson(url, credentials);

    // Assess
    expect(res).toEqual({ status: 200, body: { children: [] } });
    const auth = seen[0]!.get('authorization')!;
    expect(auth).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-2\/lambda\/aws4_request, /,
    );
    expect(auth).toMatch(/SignedHeaders=[^,]*host/);
    expect(seen[0]!.get('x-amz-date')).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it('sends a plain request anywhere else (strata serve --core), and gives back text that is not JSON', async () => {
    const seen: Headers[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (_url, init) => {
      seen.push(new Headers(init?.headers));
      return new Response('not found', { status: 404 });
    });
    expect(await getJson(new URL('http://127.0.0.1:8788/status'), credentials)).toEqual({
      status: 404,
      body: 'not found',
    });
    expect(seen[0]!.get('authorization')).toBeNull();
    expect(lambdaUrlRegion(new URL('https://x.lambda-url.us-east-1.on.aws/'))).toBe('us-east-1');
    expect(lambdaUrlRegion(new URL('https://example.com/'))).toBeUndefined();
  });
});
