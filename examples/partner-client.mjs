// A partner's client for the Strata partner API, with Hawk (npm install hawk).
//
//   STRATA_API=http://127.0.0.1:8787 HAWK_ID=acme.1a2b3c4d HAWK_KEY=... \
//     node examples/partner-client.mjs <dataset> <file.csv> <product>
//
// Sends the file (a presigned PUT), waits for its receipt, builds the product, and fetches the rows of its
// first output. With STRATA_CALLBACK=https://… it then subscribes that URL to the product's publish
// notifications (signed as Standard Webhooks says), for `strata sync --listen` or any receiver to act on.
// Every response's Server-Authorization is checked: an answer changed on the way is refused.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import Hawk from 'hawk';

const api = process.env.STRATA_API ?? 'http://127.0.0.1:8787';
const credentials = { id: process.env.HAWK_ID, key: process.env.HAWK_KEY, algorithm: 'sha256' };
const [dataset, file, product] = process.argv.slice(2);
if (!dataset || !file || !product || !credentials.id || !credentials.key) {
  console.error('usage: HAWK_ID=... HAWK_KEY=... node partner-client.mjs <dataset> <file> <product>');
  process.exit(2);
}

/** One signed request; returns the parsed JSON (or the Response for a redirect). */
async function call(method, path, body, headers = {}) {
  const url = `${api}${path}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { header, artifacts } = Hawk.client.header(url, method, {
    credentials,
    ...(payload === undefined ? {} : { payload, contentType: 'application/json' }),
  });
  const res = await fetch(url, {
    method,
    headers: {
      Authorization: header,
      ...(payload ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: payload,
    redirect: 'manual',
  });
  const text = await res.text();
  // Throws unless the server signed exactly this response for exactly this request.
  Hawk.client.authenticate({ headers: Object.fromEntries(res.headers) }, credentials, artifacts, {
    payload: text,
    required: true,
  });
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.parse(text).detail}`);
  return res.status === 302 ? res : JSON.parse(text);
}

const wait = async (what, check) => {
  for (;;) {
    const v = await check();
    if (v) return v;
    process.stderr.write(`  waiting for ${what}\n`);
    await new Promise((r) => setTimeout(r, 1000));
  }
};
const finished = (status) => ['succeeded', 'failed'].includes(status);

// 1. Upload: ask for a URL, then PUT the bytes with the headers it was signed for.
const bytes = await readFile(file);
const upload = await call('POST', `/datasets/${dataset}/uploads`, {
  filename: basename(file),
  size: bytes.length,
});
const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytes });
if (!put.ok) throw new Error(`upload refused: ${put.status}`);
console.log(`uploaded ${basename(file)} as ${upload.uploadId}`);

// 2. The receipt: the dataset version it became, or every problem that refused it.
const receipt = await wait('the ingest', async () => {
  const s = await call('GET', `/datasets/${dataset}/uploads/${upload.uploadId}`);
  return finished(s.status) && s;
});
if (receipt.status !== 'succeeded') throw new Error(`refused: ${JSON.stringify(receipt.run.error)}`);
console.log(`ingested: version ${receipt.run.result.version}, ${receipt.run.result.rows} rows`);

// 3. A build, asked for once: the same Idempotency-Key again returns the same run.
const build = await call('POST', `/products/${product}/builds`, undefined, {
  'Idempotency-Key': upload.uploadId,
});
const run = await wait('the build', async () => {
  const r = await call('GET', `/runs/${build.runId}`);
  return finished(r.status) && r;
});
if (run.status !== 'succeeded') throw new Error(`build failed: ${run.error?.message}`);

// 4. The rows: the latest version's manifest, and a download of its first output as CSV.
const manifest = await call('GET', `/products/${product}/latest`);
const output = manifest.outputs.find((o) => o.format === 'csv');
const redirect = await call(
  'GET',
  `/products/${product}/versions/${manifest.version}/outputs/${output.name}?format=csv`,
);
const csv = await (await fetch(redirect.headers.get('location'))).text();
console.log(`built ${product} version ${manifest.version}; ${output.name}.csv has ${output.rows} rows:`);
console.log(csv.split('\n').slice(0, 6).join('\n'));

// 5. Stay in sync: each later publish of the product is notified to the callback, signed with the secret
// shown here once. `strata sync <api> <collection> --into copy.gpkg --listen <port> --secret <it>` verifies
// each notification and applies only what changed (docs/partner-api.md#change-feeds-and-strata-sync).
if (process.env.STRATA_CALLBACK) {
  const sub = await call('POST', '/subscriptions', { url: process.env.STRATA_CALLBACK, products: [product] });
  console.log(`subscribed ${process.env.STRATA_CALLBACK} to ${product} as ${sub.id}`);
  console.log(`signing secret (shown once): ${sub.secret}`);
}
