// A mutual-TLS front for the local schema registry (scripts/stack.d/registry.sh starts it beside
// Apicurio, in the same process group). Apicurio Registry 3.0.9 serves HTTPS itself, but
// Quarkus fixes `quarkus.http.ssl.client-auth` at build time (NONE in the published app), so it
// cannot be told to require client certificates by configuration; this front does that part.
//
// Contract: listens on 127.0.0.1:<listenPort> with <cert>/<key>; completes a TLS handshake only
// with a client certificate signed by <ca> (no certificate or another CA: the handshake fails with
// a TLS alert); then relays the bytes unchanged to the registry's plain port 127.0.0.1:<upstream>.
// Exits when its parent (the registry's JVM) is gone, so `scripts/stack stop registry` stops both.
//
// node registry-mtls-proxy.mjs <listenPort> <upstreamPort> <ca.pem> <cert.pem> <key.pem>
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [listenPort, upstreamPort, ca, cert, key] = process.argv.slice(2);
if (!key) {
  process.stderr.write('usage: registry-mtls-proxy.mjs <listenPort> <upstreamPort> <ca.pem> <cert.pem> <key.pem>\n');
  process.exit(2);
}
const server = tls.createServer(
  { ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key), requestCert: true, rejectUnauthorized: true },
  (client) => {
    const upstream = net.connect(Number(upstreamPort), '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
  },
);
server.on('tlsClientError', (err) => {
  process.stdout.write(`[registry-mtls] refused a client: ${err.code ?? ''} ${err.message}\n`);
});
server.listen(Number(listenPort), '127.0.0.1', () => {
  process.stdout.write(`[registry-mtls] mutual TLS on 127.0.0.1:${listenPort} -> 127.0.0.1:${upstreamPort}\n`);
});
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
// keep running while the server listens
