import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/** Tells CloudFormation how a custom resource request went (the response protocol, without a framework). */
export async function respond(
  event: CloudFormationCustomResourceEvent,
  outcome: { ok: true; data?: Record<string, unknown> } | { ok: false; reason: string },
  physicalResourceId: string,
  put: typeof fetch = fetch,
): Promise<void> {
  const body = JSON.stringify({
    Status: outcome.ok ? 'SUCCESS' : 'FAILED',
    Reason: outcome.ok ? 'OK' : outcome.reason.slice(0, 3000),
    PhysicalResourceId: physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: outcome.ok ? (outcome.data ?? {}) : {},
  });
  const res = await put(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' }, body });
  if (!res.ok) throw new Error(`CloudFormation response was refused: ${res.status}`);
}
