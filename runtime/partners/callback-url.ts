import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { UsageError } from '../errors.ts';

/**
 * Addresses a callback must never reach from AWS: they would let a partner make Strata call into the VPC,
 * the instance metadata service (169.254.169.254) or the host itself.
 */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

/** Whether an IP address literal is private, loopback or link-local (IPv4-mapped IPv6 as its IPv4). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1] as string, 'ipv4');
  const family = isIP(address);
  if (family === 0) return false;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface CallbackRules {
  /** `strata serve`: plain http to localhost or 127.0.0.1 is allowed, for a partner's test receiver. */
  readonly local: boolean;
  /** How a host name is resolved, to refuse one that points inside. @default the system resolver */
  readonly resolve?: (host: string) => Promise<string[]>;
}

const systemResolve = async (host: string): Promise<string[]> =>
  (await lookup(host, { all: true })).map((a) => a.address);

/**
 * Checks a partner's callback URL: https, no credentials in it, and (away from a laptop) a host that is not
 * and does not resolve to a private, loopback or link-local address. Returns the URL as it will be called.
 */
export async function checkCallbackUrl(raw: string, rules: CallbackRules): Promise<string> {
  const refuse = (why: string): never => {
    throw new UsageError(`url: ${why}, got ${JSON.stringify(raw)}`);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('must be an absolute URL');
  }
  if (url.username || url.password) refuse('must not carry a user name or password');
  const loopback = LOOPBACK_NAMES.has(url.hostname);
  if (rules.local && loopback) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse('must be http(s)');
    return url.toString();
  }
  if (url.protocol !== 'https:')
    refuse(rules.local ? 'must be https (or http to localhost / 127.0.0.1)' : 'must be https');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (rules.local) return url.toString();
  if (loopback || isPrivateAddress(host)) refuse(`must not point at a private or loopback address (${host})`);
  if (isIP(host) === 0) {
    const addresses = await (rules.resolve ?? systemResolve)(host).catch(() =>
      refuse(`cannot resolve ${host}`),
    );
    const inside = addresses.find(isPrivateAddress);
    if (inside) refuse(`${host} resolves to a private address (${inside})`);
  }
  return url.toString();
}
