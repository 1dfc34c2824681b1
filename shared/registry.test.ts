import { createServer, type IncomingHttpHeaders } from 'node:http';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, registryFailureKind, registryOptionProblems, registryOptions, registrySubjectCount } from './registry.js';
import { ConfigError } from './errors.js';

test('failures are told apart: TLS, credentials, unavailable, other', () => {
  expect(registryFailureKind('Error, status 400: self-signed certificate in certificate chain')).toBe('tls');
  expect(registryFailureKind('error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required')).toBe('tls');
  expect(registryFailureKind("Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list")).toBe('tls');
  expect(registryFailureKind('unable to verify the first certificate')).toBe('tls');
  expect(registryFailureKind('Error, status 401', 401)).toBe('auth');
  expect(registryFailureKind('GET /subjects: HTTP 403: denied')).toBe('auth');
  expect(registryFailureKind('connect ECONNREFUSED 127.0.0.1:8081')).toBe('unavailable');
  expect(registryFailureKind('Error, status 503', 503)).toBe('unavailable');
  // An unknown schema id whose number looks like a status is not an outage (it is dead-lettered).
  expect(registryFailureKind("No content with id '512' was found.", 404)).toBe('other');
});

test('settings that do not fit together are ConfigErrors, named without their values', () => {
  expect(registryOptionProblems({ url: 'https://r/apis', certFile: '/c.pem' })).toEqual(['SLUICE_REGISTRY_CERT_FILE and SLUICE_REGISTRY_KEY_FILE go together: set both or neither']);
  expect(registryOptionProblems({ url: 'https://r/apis', token: 'tok-secret', username: 'u', password: 'pw-secret' }).join()).toMatch(/SLUICE_REGISTRY_TOKEN and SLUICE_REGISTRY_USERNAME/);
  expect(registryOptionProblems({ url: 'https://r/apis', token: 'tok-secret', username: 'u', password: 'pw-secret' }).join()).not.toMatch(/secret/);
  expect(registryOptionProblems({ url: 'http://r/apis', caFile: '/ca.pem' })).toEqual(['SLUICE_REGISTRY_CA_FILE/_CERT_FILE/_KEY_FILE are set but SLUICE_REGISTRY_URL is not https://']);
  expect(registryOptionProblems({ url: 'https://r/apis', caFile: '/ca.pem', certFile: '/c', keyFile: '/k' })).toEqual([]);
  expect(() => createRegistry({ url: 'https://r/apis', keyFile: '/k.pem' })).toThrow(ConfigError);
  expect(registryOptions({ registryUrl: 'https://r', registryToken: 't', registryCaFile: '/ca' })).toMatchObject({ url: 'https://r', token: 't', caFile: '/ca' });
});

test('a token is sent as a bearer Authorization header by both request paths; basic auth otherwise', async () => {
  const seen: IncomingHttpHeaders[] = [];
  const schema = JSON.stringify({ type: 'record', name: 'T', fields: [{ name: 'a', type: 'string' }] });
  const server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/subjects') res.writeHead(200, { 'content-type': 'application/json' }).end('["a","b"]');
    else if (req.url === '/schemas/ids/7') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ schema }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    expect(await registrySubjectCount({ url, token: 'tok-1' })).toBe(2);
    await createRegistry({ url, token: 'tok-1' }).avroType(7);
    await createRegistry({ url, username: 'u', password: 'p' }).avroType(7);
    expect(seen.map((h) => h.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', `Basic ${Buffer.from('u:p').toString('base64')}`]);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('an unreadable TLS file is a ConfigError naming no content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-reg-'));
  writeFileSync(join(dir, 'ca.pem'), 'x');
  expect(() => createRegistry({ url: 'https://r/apis', caFile: join(dir, 'missing.pem') })).toThrow(/^SLUICE_REGISTRY_CA_FILE=".*missing.pem": cannot read it \(ENOENT\)$/);
});
