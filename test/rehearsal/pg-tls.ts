// A TLS front for the PostgreSQL server, as Aurora is reached: the task entry point insists on verified TLS
// (rejectUnauthorized, a CA bundle), so the rehearsal gives it a server whose certificate it can verify
// (fixtures/loopback.crt, for 127.0.0.1) instead of weakening the task's own connection code.
import { readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';

export const LOOPBACK_CA = join(import.meta.dirname, 'fixtures', 'loopback.crt');
/** PostgreSQL's SSLRequest: length 8, then the code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

export interface TlsFront {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The startup packet (length, protocol, then name/value pairs) with its `database` replaced. */
function renameDatabase(packet: Buffer, database: string): Buffer {
  const fields = packet
    .subarray(8, packet.readInt32BE(0) - 1)
    .toString('utf8')
    .split('\0');
  const pairs: string[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2)
    pairs.push(fields[i]!, fields[i] === 'database' ? database : fields[i + 1]!);
  const body = Buffer.from(`${pairs.join('\0')}\0\0`, 'utf8');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(packet.readInt32BE(4), 4);
  return Buffer.concat([head, body, packet.subarray(packet.readInt32BE(0))]);
}

/** Listens on loopback, answers a client's SSLRequest with 'S', and relays the decrypted stream to `upstream`. */
export async function startTlsFront(upstream: URL): Promise<TlsFront> {
  const key = readFileSync(join(import.meta.dirname, 'fixtures', 'loopback.key'));
  const cert = readFileSync(LOOPBACK_CA);
  const server: Server = createServer((client) => {
    client.once('data', (first: Buffer) => {
      if (!first.subarray(0, 8).equals(SSL_REQUEST)) {
        // Aurora refuses plain connections from the task too (rds.force_ssl): so does the rehearsal.
        client.destroy();
        return;
      }
      client.write('S');
      const secure = new TLSSocket(client, { isServer: true, key, cert });
      const db = connect(Number(upstream.port || 5432), upstream.hostname);
      // The first message is the startup packet: it names the deployment's database (`strata`), which is
      // this test's throwaway database on the server.
      secure.once('data', (startup: Buffer) => {
        db.write(renameDatabase(startup, upstream.pathname.slice(1)));
        secure.pipe(db);
      });
      db.pipe(secure);
      const end = () => {
        secure.destroy();
        db.destroy();
      };
      secure.on('error', end).on('close', end);
      db.on('error', end).on('close', end);
    });
    client.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
