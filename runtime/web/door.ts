/**
 * How the client addressed the app. Hawk's MAC covers the host, port and path exactly as the client sent
 * them, and links (OGC `next`, downloads) must be URLs the client can follow, so both come from here and
 * never from the path the app routes on: behind API Gateway the client's path carries the stage (`/v1`) or a
 * custom domain's base path, which the app's routes do not.
 */
export interface Door {
  readonly proto: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** The path before the app's routes, as the client sent it: `/v1`, `/partners`, or '' locally. */
  readonly prefix: string;
  /**
   * Path and query below `prefix` as sent. Node hands the server the raw request line: one spelling. API
   * Gateway's REST events carry the query decoded, so the adapter offers the spellings clients send.
   */
  readonly targets: readonly string[];
}

const defaultPort = (proto: 'http' | 'https') => (proto === 'https' ? 443 : 80);

/** `Host: name[:port]` → name and port (IPv6 in brackets kept as is). */
export function parseHost(value: string, proto: 'http' | 'https'): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(value.trim());
  if (!m) return { host: value.trim(), port: defaultPort(proto) };
  return { host: m[1]!.toLowerCase(), port: m[2] ? Number(m[2]) : defaultPort(proto) };
}

/**
 * A configured public base URL (`STRATA_PUBLIC_BASE_URL`, for a proxy or CDN in front that rewrites Host)
 * wins over what the request says about host, port, scheme and prefix.
 */
export function withPublicBase(door: Door, base: string | undefined): Door {
  if (!base) return door;
  const u = new URL(base);
  const proto = u.protocol === 'https:' ? 'https' : 'http';
  return {
    ...door,
    proto,
    host: u.hostname.toLowerCase(),
    port: u.port ? Number(u.port) : defaultPort(proto),
    prefix: u.pathname.replace(/\/+$/, ''),
  };
}

/**
 * Loopback names: only these get the local operator's pass. A page on another site whose DNS name was
 * rebound to 127.0.0.1 reaches the server with its own name in Host, and is refused.
 */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const { host } = parseHost(hostHeader, 'http');
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

export function origin(door: Door): string {
  const port = door.port === defaultPort(door.proto) ? '' : `:${door.port}`;
  return `${door.proto}://${door.host}${port}`;
}

/** An absolute URL for one of the app's paths, as this client reaches it. */
export function link(door: Door, path: string, query?: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const q = params.toString();
  return `${origin(door)}${door.prefix}${path}${q ? `?${q}` : ''}`;
}

/** The door of a request that reached a Node server directly (`strata serve`). */
export function nodeDoor(hostHeader: string | undefined, rawUrl: string): Door {
  const { host, port } = parseHost(hostHeader ?? '127.0.0.1', 'http');
  return { proto: 'http', host, port, prefix: '', targets: [rawUrl] };
}

/**
 * The spellings of a decoded query that clients send: values as `encodeURIComponent` writes them, and as
 * the WHATWG URL parser leaves them (commas, colons and slashes unescaped; what `fetch` and curl send for a
 * `bbox=1,2,3,4`).
 */
export function querySpellings(params: Readonly<Record<string, readonly string[]>>): string[] {
  const entries = Object.entries(params).flatMap(([k, vs]) => vs.map((v) => [k, v] as const));
  if (entries.length === 0) return [''];
  const strict = entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const unescaped = (v: string) =>
    encodeURIComponent(v).replace(/%(2C|3A|2F|40|24|3B|3F)/g, (_, h: string) =>
      String.fromCharCode(Number.parseInt(h, 16)),
    );
  const loose = entries.map(([k, v]) => `${encodeURIComponent(k)}=${unescaped(v)}`).join('&');
  return [...new Set([`?${loose}`, `?${strict}`])];
}
