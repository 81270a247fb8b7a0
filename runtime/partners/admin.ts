import { Name } from '../catalog/schema.ts';
import { ConflictError, NotFoundError, UsageError } from '../errors.ts';
import type { HawkKey, Partner, PartnerDirectoryDoc } from '../ports/partner-directory.ts';
import { burstOf, newApiKey, newHawkKey } from './credentials.ts';

/** What `partners add` and `partners add-key` print once: the secrets are never shown again. */
export interface IssuedCredentials {
  readonly partner: string;
  readonly hawk?: { readonly id: string; readonly key: string; readonly algorithm: 'sha256' };
  readonly apiKey?: { readonly id: string; readonly key: string };
}

function requirePartner(doc: PartnerDirectoryDoc, id: string): Partner {
  const p = Object.hasOwn(doc.partners, id) ? doc.partners[id] : undefined;
  if (!p) throw new NotFoundError(`no partner "${id}" in the partner directory`);
  return p;
}

const withPartner = (doc: PartnerDirectoryDoc, id: string, partner: Partner): PartnerDirectoryDoc => ({
  ...doc,
  partners: { ...doc.partners, [id]: partner },
});

const hawkOut = (k: HawkKey) => ({ id: k.id, key: k.key, algorithm: 'sha256' as const });

/** A new partner with one Hawk key and one API key. */
export function addPartner(
  doc: PartnerDirectoryDoc,
  id: string,
  options: { scopes: string[]; title?: string; requestsPerSecond?: number; burst?: number },
): { doc: PartnerDirectoryDoc; issued: IssuedCredentials } {
  const name = Name.safeParse(id);
  if (!name.success)
    throw new UsageError(`partner id "${id}" ${name.error.issues[0]!.message} (it is also a bucket prefix)`);
  for (const [option, n] of [
    ['rate', options.requestsPerSecond],
    ['burst', options.burst],
  ] as const)
    if (n !== undefined && !(Number.isInteger(n) && n > 0))
      throw new UsageError(`--${option} must be a whole number above 0, got: ${n}`);
  if (Object.hasOwn(doc.partners, id)) throw new ConflictError(`partner "${id}" already exists`);
  const hawk = newHawkKey(id);
  const api = newApiKey('first key');
  const partner: Partner = {
    title: options.title,
    scopes: options.scopes,
    hawk: [hawk],
    apiKeys: [api.record],
    requestsPerSecond: options.requestsPerSecond ?? 25,
    burst: options.burst,
  };
  return {
    doc: withPartner(doc, id, partner),
    issued: { partner: id, hawk: hawkOut(hawk), apiKey: { id: api.record.id, key: api.key } },
  };
}

/** Another key beside the partner's others, so a key can be rotated without a moment with none. */
export function addKey(
  doc: PartnerDirectoryDoc,
  id: string,
  kind: 'hawk' | 'api',
  label?: string,
): { doc: PartnerDirectoryDoc; issued: IssuedCredentials } {
  const p = requirePartner(doc, id);
  if (kind === 'hawk') {
    const hawk = newHawkKey(id);
    return {
      doc: withPartner(doc, id, { ...p, hawk: [...p.hawk, hawk] }),
      issued: { partner: id, hawk: hawkOut(hawk) },
    };
  }
  const api = newApiKey(label);
  return {
    doc: withPartner(doc, id, { ...p, apiKeys: [...p.apiKeys, api.record] }),
    issued: { partner: id, apiKey: { id: api.record.id, key: api.key } },
  };
}

/** Removes one key (a Hawk credentials id or an API key id); requests with it fail from the next read on. */
export function revokeKey(doc: PartnerDirectoryDoc, id: string, keyId: string): PartnerDirectoryDoc {
  const p = requirePartner(doc, id);
  const hawk = p.hawk.filter((k) => k.id !== keyId);
  const apiKeys = p.apiKeys.filter((k) => k.id !== keyId);
  if (hawk.length === p.hawk.length && apiKeys.length === p.apiKeys.length)
    throw new NotFoundError(`partner "${id}" has no key "${keyId}"`);
  return withPartner(doc, id, { ...p, hawk, apiKeys });
}

export function setScopes(doc: PartnerDirectoryDoc, id: string, scopes: string[]): PartnerDirectoryDoc {
  return withPartner(doc, id, { ...requirePartner(doc, id), scopes });
}

export function removePartner(doc: PartnerDirectoryDoc, id: string): PartnerDirectoryDoc {
  requirePartner(doc, id);
  const { [id]: _removed, ...rest } = doc.partners;
  return { ...doc, partners: rest };
}

/** Partners and their keys without any secret, for `partners list`. */
export function describePartners(doc: PartnerDirectoryDoc) {
  return Object.entries(doc.partners).map(([id, p]) => ({
    id,
    title: p.title,
    scopes: p.scopes,
    requestsPerSecond: p.requestsPerSecond,
    burst: burstOf(p),
    keys: [
      ...p.hawk.map((k) => ({ id: k.id, kind: 'hawk' as const, createdAt: k.createdAt })),
      ...p.apiKeys.map((k) => ({ id: k.id, kind: 'api' as const, createdAt: k.createdAt, label: k.label })),
    ],
  }));
}
