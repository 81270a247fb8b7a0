import { randomBytes } from 'node:crypto';

/** `20261122T014618123Z`: sorts as text in time order, and reads as a time. */
export function timestamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

/** A dataset version id: when it was received, then a short hash of its bytes. */
export function datasetVersionId(receivedAt: Date, sha256: string): string {
  return `${timestamp(receivedAt)}-${sha256.slice(0, 8)}`;
}

/** A run id that sorts by creation time. */
export function newRunId(at = new Date()): string {
  return `${timestamp(at)}-${randomBytes(4).toString('hex')}`;
}

export const VERSION_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
