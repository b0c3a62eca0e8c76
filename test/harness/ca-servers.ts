// Real CA servers on loopback for the external-CA tests, built from pinned Go modules by
// hack/ca-servers.sh into a cache outside the repository.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, randomBytes } from 'node:crypto';
import { REPO_ROOT } from './control-plane.ts';
import { freePort, startProcess, stopProc, waitFor, type Proc } from './processes.ts';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import * as x509 from '@peculiar/x509';
import { toSigningKey } from '../../src/pki/webcrypto-signing.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { generateKey, encodePrivateKey } from '../../src/pki/keys.ts';
import { buildCsr } from '../../src/pki/csr.ts';
import { postJson, send } from '../../src/issuers/https-json.ts';

let binDir: string | undefined;

/** A test CA and a serving certificate from it for 127.0.0.1/localhost (the TLS of a CA server's API). */
async function testCaWithServingCert(caName: string, server: string) {
  const ca = await generateCa({ commonName: caName, durationMs: 3650 * 86_400_000, key: { algorithm: 'ECDSA' } });
  const m = loadCaMaterial({
    'tls.crt': Buffer.from(ca.certPem).toString('base64'),
    'tls.key': Buffer.from(ca.keyPem).toString('base64'),
  });
  if (!m.ok) throw new Error(m.message);
  const servingKey = await generateKey({ algorithm: 'ECDSA' });
  const serving = await new InClusterCaIssuer(m).sign({
    csrPem: await buildCsr(servingKey, {
      subject: { commonName: server },
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      uris: [],
      emailAddresses: [],
      usages: ['serverAuth'],
      isCA: false,
    }),
    requestId: server,
    identity: { namespace: '', name: server, uid: server },
    durationMs: 86_400_000,
    isCA: false,
    usages: ['serverAuth'],
  });
  if (serving.status !== 'issued') throw new Error(`${server} serving certificate not issued`);
  return { ca, m, serving, servingKey };
}
export function caServerBins(): string {
  binDir ??= execFileSync('bash', [join(REPO_ROOT, 'hack/ca-servers.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop()!;
  return binDir;
}

export interface CfsslServer {
  url: string;
  caPem: string;
  authKeyHex: string;
  profile: string;
  stop(): Promise<void>;
  /** Starts it again on the same port with the same CA (after stop). */ start(): Promise<void>;
}

/** A CFSSL CA (ECDSA P-256) serving HTTPS on 127.0.0.1 with authenticated signing (profile "server"). */
export async function startCfssl(): Promise<CfsslServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mio-cfssl-'));
  const { ca, m, serving, servingKey } = await testCaWithServingCert('CFSSL Test CA', 'cfssl');
  const authKeyHex = randomBytes(16).toString('hex');
  const usages = ['signing', 'digital signature', 'key encipherment', 'server auth', 'client auth'];
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'ca-key.pem'), encodePrivateKey(m.key, 'SEC1'));
  writeFileSync(join(dir, 'tls.pem'), serving.certificatePem);
  writeFileSync(join(dir, 'tls-key.pem'), encodePrivateKey(servingKey, 'PKCS8'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      signing: {
        default: { auth_key: 'primary', expiry: '2160h', usages },
        profiles: { server: { auth_key: 'primary', expiry: '2160h', usages } },
      },
      auth_keys: { primary: { type: 'standard', key: authKeyHex } },
    }),
  );
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  let proc: Proc | undefined;
  const start = async (): Promise<void> => {
    const p = startProcess(
      'cfssl',
      join(caServerBins(), 'cfssl'),
      [
        'serve',
        '-address',
        '127.0.0.1',
        '-port',
        String(port),
        '-ca',
        join(dir, 'ca.pem'),
        '-ca-key',
        join(dir, 'ca-key.pem'),
        '-config',
        join(dir, 'config.json'),
        '-tls-cert',
        join(dir, 'tls.pem'),
        '-tls-key',
        join(dir, 'tls-key.pem'),
      ],
      join(dir, 'cfssl.log'),
    );
    proc = p;
    await waitFor(
      'cfssl serving',
      async () => {
        if (p.child.exitCode !== null) throw new Error('cfssl exited');
        return (
          (
            await postJson(`${url}/api/v1/cfssl/info`, { label: '' }, { ca: ca.certPem, timeoutMs: 2000 }).catch(
              () => undefined,
            )
          )?.status === 200
        );
      },
      30_000,
      200,
    );
  };
  await start();
  return {
    url,
    caPem: ca.certPem,
    authKeyHex,
    profile: 'server',
    start,
    stop: async () => {
      if (proc) await stopProc(proc);
      proc = undefined;
    },
  };
}

export interface StepCaServer {
  url: string;
  rootPem: string;
  provisioner: string;
  password: string;
  /** A one-time token for the revoke endpoint, as the provisioner (to ask step-ca about a serial). */
  revokeToken(serial: string): Promise<string>;
  stop(): Promise<void>;
}

/** step-ca with a root and an intermediate (ECDSA), a JWK provisioner whose key step-ca keeps encrypted, and a badger DB (revocations). */
export async function startStepCa(): Promise<StepCaServer> {
  const jose = await import('jose');
  const dir = mkdtempSync(join(tmpdir(), 'mio-stepca-'));
  const root = await generateCa({
    commonName: 'Step Test Root',
    durationMs: 3650 * 86_400_000,
    key: { algorithm: 'ECDSA' },
  });
  const rm = loadCaMaterial({
    'tls.crt': Buffer.from(root.certPem).toString('base64'),
    'tls.key': Buffer.from(root.keyPem).toString('base64'),
  });
  if (!rm.ok) throw new Error(rm.message);
  const interKey = await generateKey({ algorithm: 'ECDSA' });
  // step-ca's own unconstrained intermediate, made as its operator would (the operator's signing path only
  // makes name-constrained CA certificates for tenants)
  const rootSigner = toSigningKey(rm.key)!;
  const interPub = new x509.PublicKey(createPublicKey(interKey).export({ type: 'spki', format: 'der' }));
  const interCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16)
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    subject: 'CN=Step Test Intermediate',
    issuer: rm.cert.subjectName,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3000 * 86_400_000),
    publicKey: interPub,
    signingKey: rootSigner.key,
    signingAlgorithm: rootSigner.algorithm.signParams as x509.X509CertificateCreateParams['signingAlgorithm'],
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(interPub),
      await x509.AuthorityKeyIdentifierExtension.create(rm.cert),
    ],
  });
  writeFileSync(join(dir, 'root.crt'), root.certPem);
  writeFileSync(join(dir, 'intermediate.crt'), `${interCert.toString('pem')}\n`);
  writeFileSync(join(dir, 'intermediate.key'), encodePrivateKey(interKey, 'SEC1'));
  const password = randomBytes(12).toString('hex');
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const pub = await jose.exportJWK(publicKey);
  const kid = await jose.calculateJwkThumbprint(pub);
  const priv = { ...(await jose.exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  const encryptedKey = await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(priv)))
    .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json' })
    .setKeyManagementParameters({ p2c: 10_000 })
    .encrypt(new TextEncoder().encode(password));
  const port = await freePort();
  const provisioner = 'mio';
  writeFileSync(
    join(dir, 'ca.json'),
    JSON.stringify({
      root: join(dir, 'root.crt'),
      crt: join(dir, 'intermediate.crt'),
      key: join(dir, 'intermediate.key'),
      address: `127.0.0.1:${port}`,
      dnsNames: ['127.0.0.1', 'localhost'],
      logger: { format: 'text' },
      db: { type: 'badgerv2', dataSource: join(dir, 'db') },
      authority: {
        provisioners: [
          {
            type: 'JWK',
            name: provisioner,
            key: { ...pub, kid, alg: 'ES256', use: 'sig' },
            encryptedKey,
            claims: { minTLSCertDuration: '5m', maxTLSCertDuration: '2160h', defaultTLSCertDuration: '24h' },
          },
        ],
      },
      tls: { minVersion: 1.2, maxVersion: 1.3 },
    }),
  );
  const proc = startProcess(
    'step-ca',
    join(caServerBins(), 'step-ca'),
    [join(dir, 'ca.json')],
    join(dir, 'step-ca.log'),
  );
  const url = `https://127.0.0.1:${port}`;
  await waitFor(
    'step-ca healthy',
    async () => {
      if (proc.child.exitCode !== null) throw new Error('step-ca exited');
      return (
        (
          await postJson(`${url}/health`, undefined, { method: 'GET', ca: root.certPem, timeoutMs: 2000 }).catch(
            () => undefined,
          )
        )?.status === 200
      );
    },
    30_000,
    200,
  );
  const signingKey = await jose.importJWK(priv, 'ES256');
  return {
    url,
    rootPem: root.certPem,
    provisioner,
    password,
    revokeToken: (serial) =>
      new jose.SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .setIssuer(provisioner)
        .setAudience(`${url}/1.0/revoke`)
        .setSubject(serial)
        .setIssuedAt()
        .setNotBefore('-1m')
        .setExpirationTime('5m')
        .setJti(randomBytes(8).toString('hex'))
        .sign(signingKey),
    stop: () => stopProc(proc),
  };
}

export interface PebbleServer {
  directoryURL: string;
  /** Trust for Pebble's API (its serving certificate's CA). */
  caBundle: string;
  /** Pebble's issuing root (changes on every start: Pebble keeps everything in memory). */
  rootPem(): Promise<string>;
  /** The port Pebble connects to for HTTP-01: the operator's listener must be there. */
  httpPort: number;
  eab: { keyID: string; hmacKeyB64u: string };
  /** BIND 9 primary for dns01.test, updatable with the TSIG key; every name has 127.0.0.1 except noaddr.dns01.test. */
  dns: {
    nameserver: string;
    zone: string;
    tsigKeyName: string;
    tsigSecretB64: string;
    /** named's own log (-g): one line per applied update. */ log(): string;
  };
  /** Pebble's view of a certificate: Valid or Revoked (serial in hex). */
  certStatus(serialHex: string): Promise<string | undefined>;
  /** Stops / restarts only Pebble (its DNS stays up), on the same ports. */
  stop(): Promise<void>;
  start(): Promise<void>;
  stopAll(): Promise<void>;
}

function namedBin(): string {
  for (const p of ['/usr/sbin/named', '/usr/bin/named']) if (existsSync(p)) return p;
  throw new Error('BIND 9 (named) is not installed: apt-get install bind9 (.ci/run does)');
}

/**
 * Pebble with real validation (no PEBBLE_VA_ALWAYS_VALID): its resolver is a real BIND 9 that is
 * primary for dns01.test (RFC 2136 updates with TSIG) and forwards every other name to
 * pebble-challtestsrv, which answers 127.0.0.1, so HTTP-01 validation reaches the operator's listener.
 * External account binding is required. PEBBLE_WFE_NONCEREJECT stays at Pebble's default (5% of
 * nonces refused) so badNonce retries are exercised all the time.
 */
export async function startPebble(o: { httpPort: number; nonceRejectPercent?: number }): Promise<PebbleServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mio-pebble-'));
  const { ca, serving, servingKey } = await testCaWithServingCert('Pebble API Test CA', 'pebble');
  writeFileSync(join(dir, 'tls.pem'), serving.certificatePem);
  writeFileSync(join(dir, 'tls-key.pem'), encodePrivateKey(servingKey, 'PKCS8'));
  const [acmePort, mgmtPort, tlsPort, challDns, challMgmt, bindPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const eab = { keyID: 'mio-test-kid', hmacKeyB64u: randomBytes(32).toString('base64url') };
  const tsig = { tsigKeyName: 'mio-acme-test', tsigSecretB64: randomBytes(32).toString('base64') };
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: join(dir, 'tls.pem'),
        privateKey: join(dir, 'tls-key.pem'),
        httpPort: o.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: true,
        externalAccountMACKeys: { [eab.keyID]: eab.hmacKeyB64u },
        retryAfter: { authz: 1, order: 1 },
        domainBlocklist: ['blocked.example'],
        profiles: { default: { description: 'default', validityPeriod: 7776000 } },
      },
    }),
  );
  writeFileSync(
    join(dir, 'named.conf'),
    `options { directory "${dir}"; listen-on port ${bindPort} { 127.0.0.1; }; listen-on-v6 { none; };
  pid-file "${dir}/named.pid"; session-keyfile "${dir}/session.key"; recursion yes; allow-recursion { 127.0.0.1; }; allow-query { 127.0.0.1; };
  dnssec-validation no; forwarders { 127.0.0.1 port ${challDns}; }; forward only; };
key "${tsig.tsigKeyName}" { algorithm hmac-sha256; secret "${tsig.tsigSecretB64}"; };
zone "dns01.test" { type primary; file "${dir}/dns01.test.zone"; allow-update { key "${tsig.tsigKeyName}"; }; };
`,
  );
  // A records so a dns01.test name also resolves (Pebble looks names up before DNS-01, and CAA); noaddr has none
  writeFileSync(
    join(dir, 'dns01.test.zone'),
    '$TTL 60\n@ IN SOA ns.dns01.test. admin.dns01.test. ( 1 60 60 600 60 )\n@ IN NS ns.dns01.test.\nns IN A 127.0.0.1\n* IN A 127.0.0.1\nnoaddr IN TXT \"this name has no address\"\n',
  );
  const chall = startProcess(
    'pebble-challtestsrv',
    join(caServerBins(), 'pebble-challtestsrv'),
    [
      '-dnsserver',
      `127.0.0.1:${challDns}`,
      '-management',
      `127.0.0.1:${challMgmt}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-doh',
      '',
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    join(dir, 'challtestsrv.log'),
  );
  const named = startProcess(
    'named',
    namedBin(),
    ['-g', '-c', join(dir, 'named.conf'), '-n', '1', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])],
    join(dir, 'named.log'),
  );
  await waitFor(
    'BIND 9 answering for dns01.test',
    async () => {
      if (named.child.exitCode !== null)
        throw new Error(`named exited: ${readFileSync(join(dir, 'named.log'), 'utf8').slice(-800)}`);
      return readFileSync(join(dir, 'named.log'), 'utf8').includes('running');
    },
    20_000,
    100,
  );
  let proc: Proc | undefined;
  const directoryURL = `https://127.0.0.1:${acmePort}/dir`;
  const start = async (): Promise<void> => {
    const p = startProcess(
      'pebble',
      join(caServerBins(), 'pebble'),
      ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${bindPort}`],
      join(dir, 'pebble.log'),
      {
        env: {
          ...process.env,
          PEBBLE_VA_NOSLEEP: '1',
          ...(o.nonceRejectPercent !== undefined ? { PEBBLE_WFE_NONCEREJECT: String(o.nonceRejectPercent) } : {}),
        },
      },
    );
    proc = p;
    await waitFor(
      'pebble serving',
      async () => {
        if (p.child.exitCode !== null)
          throw new Error(`pebble exited: ${readFileSync(join(dir, 'pebble.log'), 'utf8').slice(-800)}`);
        return (
          (await send(directoryURL, { method: 'GET', ca: ca.certPem, timeoutMs: 2000 }).catch(() => undefined))
            ?.status === 200
        );
      },
      30_000,
      100,
    );
  };
  await start();
  const stop = async (): Promise<void> => {
    if (proc) await stopProc(proc);
    proc = undefined;
  };
  return {
    directoryURL,
    caBundle: ca.certPem,
    httpPort: o.httpPort,
    eab,
    dns: {
      nameserver: `127.0.0.1:${bindPort}`,
      zone: 'dns01.test',
      ...tsig,
      log: () => readFileSync(join(dir, 'named.log'), 'utf8'),
    },
    rootPem: async () => (await send(`https://127.0.0.1:${mgmtPort}/roots/0`, { method: 'GET', ca: ca.certPem })).text,
    certStatus: async (serialHex) => {
      const r = await send(`https://127.0.0.1:${mgmtPort}/cert-status-by-serial/${serialHex}`, {
        method: 'GET',
        ca: ca.certPem,
      });
      return r.status === 200 ? (JSON.parse(r.text) as { Status: string }).Status : undefined;
    },
    stop,
    start,
    stopAll: async () => {
      await stop();
      await stopProc(named);
      await stopProc(chall);
    },
  };
}
