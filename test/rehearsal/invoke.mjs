// Runs one Lambda bundle the way the Node.js runtime does: imports it (cold start), then calls its handler
// with each event of $REHEARSAL_EVENTS in turn (a warm instance), and writes what each returned or threw to
// $REHEARSAL_OUT. Usage: node --import ./record-env.mjs invoke.mjs <bundle> <handler>
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [bundle, handlerName] = process.argv.slice(2);
const env = process.env;
const events = JSON.parse(readFileSync(env.REHEARSAL_EVENTS, 'utf8'));
const out = { coldStart: undefined, results: [] };
const timeoutMs = Number(env.REHEARSAL_TIMEOUT_S ?? 30) * 1000;
try {
  const mod = await import(pathToFileURL(bundle).href);
  const handler = mod[handlerName];
  if (typeof handler !== 'function') throw new Error(`${bundle} exports no function ${handlerName}`);
  for (const event of events) {
    const deadline = Date.now() + timeoutMs;
    const context = {
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: '$LATEST',
      invokedFunctionArn: env.REHEARSAL_FUNCTION_ARN,
      memoryLimitInMB: '256',
      awsRequestId: crypto.randomUUID(),
      logGroupName: `/aws/lambda/${env.AWS_LAMBDA_FUNCTION_NAME}`,
      logStreamName: 'rehearsal',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    try {
      out.results.push({ ok: true, value: await handler(event, context) });
    } catch (e) {
      out.results.push({ ok: false, error: `${e?.name}: ${e?.message}` });
    }
  }
} catch (e) {
  out.coldStart = `${e?.name}: ${e?.message}`;
}
out.read = [...(globalThis.strataEnvReads ?? [])].sort();
writeFileSync(env.REHEARSAL_OUT, JSON.stringify(out));
process.exit(0);
