import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { StrataError } from '../errors.ts';
import {
  type ApiKeyRecord,
  type HawkKey,
  type Partner,
  PartnerDirectoryDoc,
} from '../ports/partner-directory.ts';

/** `strata_<key id>_<64 hex>`: the id finds the key, the rest is the secret; only its sha256 is stored. */
const API_KEY = /^strata_([0-9a-f]{12})_([0-9a-f]{64})$/;

/**
 * Seconds of the sustained rate a partner may spend at once. Paging clients on their defaults send many
 * small requests as fast as answers come: GDAL 3.6 pages 10 features a request, so its `ogr2ogr` of a
 * 16,627-feature collection makes about 1,700 requests in a few seconds, and QGIS gives up on the first
 * 429 (it keeps the partial layer). Two minutes of 25 a second (3,000 requests, 30,000 features at GDAL's
 * page size) reads such a collection whole; a client that keeps going past it is held to the rate.
 */
export const BURST_SECONDS = 120;

/** How many requests a partner may make at once (its bucket's size). */
export const burstOf = (p: Pick<Partner, 'requestsPerSecond' | 'burst'>): number =>
  p.burst ?? p.requestsPerSecond * BURST_SECONDS;

/** The partner directory cannot be read as one: names where and what. */
export class PartnerDirectoryError extends StrataError {
  readonly code = 'PARTNERS_INVALID';
  constructor(
    readonly where: string,
    readonly problems: readonly string[],
  ) {
    super(`the partner directory in ${where} is invalid: ${problems.join('; ')}`);
    this.name = 'PartnerDirectoryError';
  }
}

/** Parses the directory's JSON text, naming where it came from and every problem found. */
export function parseDirectory(text: string, where: string): PartnerDirectoryDoc {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new PartnerDirectoryError(where, [`not JSON: ${(e as Error).message}`]);
  }
  const parsed = PartnerDirectoryDoc.safeParse(raw);
  if (!parsed.success)
    throw new PartnerDirectoryError(
      where,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`),
    );
  return parsed.data;
}

export const newSigningKey = () => randomBytes(32).toString('base64url');

export function emptyDirectory(): PartnerDirectoryDoc {
  return { version: 1, signingKey: newSigningKey(), partners: {} };
}

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

export function newHawkKey(partner: string, now = new Date()): HawkKey {
  return {
    id: `${partner}.${randomBytes(4).toString('hex')}`,
    key: randomBytes(32).toString('base64url'),
    createdAt: now.toISOString(),
  };
}

/** A new API key: the record to store, and the key itself, to show once. */
export function newApiKey(label?: string, now = new Date()): { record: ApiKeyRecord; key: string } {
  const id = randomBytes(6).toString('hex');
  const key = `strata_${id}_${randomBytes(32).toString('hex')}`;
  return { record: { id, sha256: sha256Hex(key), createdAt: now.toISOString(), label }, key };
}

export interface KnownPartner {
  readonly id: string;
  readonly partner: Partner;
}

/** The partner holding this Hawk credentials id, with its key. */
export function findHawkKey(
  doc: PartnerDirectoryDoc,
  hawkId: string,
): (KnownPartner & { key: HawkKey }) | undefined {
  const partnerId = hawkId.split('.')[0] ?? '';
  const partner = Object.hasOwn(doc.partners, partnerId) ? doc.partners[partnerId] : undefined;
  const key = partner?.hawk.find((k) => k.id === hawkId);
  return partner && key ? { id: partnerId, partner, key } : undefined;
}

/**
 * The partner an API key belongs to (and the key's id), compared by hash in constant time; undefined for any
 * other string.
 */
export function findApiKey(
  doc: PartnerDirectoryDoc,
  presented: string,
): (KnownPartner & { keyId: string }) | undefined {
  const m = API_KEY.exec(presented);
  if (!m) return undefined;
  const hash = Buffer.from(sha256Hex(presented), 'hex');
  for (const [id, partner] of Object.entries(doc.partners)) {
    const record = partner.apiKeys.find((k) => k.id === m[1]);
    if (record && timingSafeEqual(Buffer.from(record.sha256, 'hex'), hash))
      return { id, partner, keyId: record.id };
  }
  return undefined;
}
