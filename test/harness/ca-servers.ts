// Real CA servers on loopback for the external-CA tests, built from pinned Go modules by
// hack/ca-servers.sh into a cache outside the repository.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from './control-plane.ts';
import { freePort, startProcess, stopProc, waitFor, type Proc } from './processes.ts';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { generateKey, encodePrivateKey } from '../../src/issuers/crypto/keys.ts';
import { buildCsr } from '../../src/issuers/crypto/csr.ts';
import { postJson } from '../../src/issuers/https-json.ts';

let binDir: string | undefined;
export function caServerBins(): string {
  binDir ??= execFileSync('bash', [join(REPO_ROOT, 'hack/ca-servers.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  return binDir;
}

export interface CfsslServer { url: string; caPem: string; authKeyHex: string; profile: string; stop(): Promise<void>; /** Starts it again on the same port with the same CA (after stop). */ start(): Promise<void> }

/** A CFSSL CA (ECDSA P-256) serving HTTPS on 127.0.0.1 with authenticated signing (profile "server"). */
export async function startCfssl(): Promise<CfsslServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mio-cfssl-'));
  const ca = await generateCa({ commonName: 'CFSSL Test CA', durationMs: 3650 * 86_400_000, key: { algorithm: 'ECDSA' } });
  const m = loadCaMaterial({ 'tls.crt': Buffer.from(ca.certPem).toString('base64'), 'tls.key': Buffer.from(ca.keyPem).toString('base64') });
  if (!m.ok) throw new Error(m.message);
  const servingKey = await generateKey({ algorithm: 'ECDSA' });
  const serving = await new InClusterCaIssuer(m).sign({ csrPem: await buildCsr(servingKey, { subject: { commonName: 'cfssl' }, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], uris: [], emailAddresses: [], usages: ['serverAuth'], isCA: false }),
    requestId: 'cfssl', identity: { namespace: '', name: 'cfssl', uid: 'cfssl' }, durationMs: 86_400_000, isCA: false, usages: ['serverAuth'] });
  if (serving.status !== 'issued') throw new Error('cfssl serving certificate not issued');
  const authKeyHex = randomBytes(16).toString('hex');
  const usages = ['signing', 'digital signature', 'key encipherment', 'server auth', 'client auth'];
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'ca-key.pem'), encodePrivateKey(m.key, 'SEC1'));
  writeFileSync(join(dir, 'tls.pem'), serving.certificatePem);
  writeFileSync(join(dir, 'tls-key.pem'), encodePrivateKey(servingKey, 'PKCS8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    signing: { default: { auth_key: 'primary', expiry: '2160h', usages },
      profiles: { server: { auth_key: 'primary', expiry: '2160h', usages } } },
    auth_keys: { primary: { type: 'standard', key: authKeyHex } },
  }));
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  let proc: Proc | undefined;
  const start = async (): Promise<void> => {
    const p = startProcess('cfssl', join(caServerBins(), 'cfssl'), ['serve', '-address', '127.0.0.1', '-port', String(port), '-ca', join(dir, 'ca.pem'),
      '-ca-key', join(dir, 'ca-key.pem'), '-config', join(dir, 'config.json'), '-tls-cert', join(dir, 'tls.pem'), '-tls-key', join(dir, 'tls-key.pem')], join(dir, 'cfssl.log'));
    proc = p;
    await waitFor('cfssl serving', async () => {
      if (p.child.exitCode !== null) throw new Error('cfssl exited');
      return (await postJson(`${url}/api/v1/cfssl/info`, { label: '' }, { ca: ca.certPem, timeoutMs: 2000 }).catch(() => undefined))?.status === 200;
    }, 30_000, 200);
  };
  await start();
  return { url, caPem: ca.certPem, authKeyHex, profile: 'server', start, stop: async () => { if (proc) await stopProc(proc); proc = undefined; } };
}

export interface StepCaServer {
  url: string; rootPem: string; provisioner: string; password: string;
  /** A one-time token for the revoke endpoint, as the provisioner (to ask step-ca about a serial). */
  revokeToken(serial: string): Promise<string>;
  stop(): Promise<void>;
}

/** step-ca with a root and an intermediate (ECDSA), a JWK provisioner whose key step-ca keeps encrypted, and a badger DB (revocations). */
export async function startStepCa(): Promise<StepCaServer> {
  const jose = await import('jose');
  const dir = mkdtempSync(join(tmpdir(), 'mio-stepca-'));
  const root = await generateCa({ commonName: 'Step Test Root', durationMs: 3650 * 86_400_000, key: { algorithm: 'ECDSA' } });
  const rm = loadCaMaterial({ 'tls.crt': Buffer.from(root.certPem).toString('base64'), 'tls.key': Buffer.from(root.keyPem).toString('base64') });
  if (!rm.ok) throw new Error(rm.message);
  const interKey = await generateKey({ algorithm: 'ECDSA' });
  const inter = await new InClusterCaIssuer(rm).sign({ csrPem: await buildCsr(interKey, { subject: { commonName: 'Step Test Intermediate' }, dnsNames: [], ipAddresses: [], uris: [], emailAddresses: [], usages: ['certSign', 'crlSign', 'digitalSignature'], isCA: true }),
    requestId: 'inter', identity: { namespace: '', name: 'inter', uid: 'inter' }, durationMs: 3000 * 86_400_000, isCA: true, usages: ['certSign', 'crlSign', 'digitalSignature'] });
  if (inter.status !== 'issued') throw new Error(`intermediate not issued: ${inter.status === 'denied' || inter.status === 'failed' ? inter.message : inter.status}`);
  writeFileSync(join(dir, 'root.crt'), root.certPem);
  writeFileSync(join(dir, 'intermediate.crt'), inter.certificatePem);
  writeFileSync(join(dir, 'intermediate.key'), encodePrivateKey(interKey, 'SEC1'));
  const password = randomBytes(12).toString('hex');
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const pub = await jose.exportJWK(publicKey);
  const kid = await jose.calculateJwkThumbprint(pub);
  const priv = { ...(await jose.exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  const encryptedKey = await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(priv)))
    .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json' }).setKeyManagementParameters({ p2c: 10_000 })
    .encrypt(new TextEncoder().encode(password));
  const port = await freePort();
  const provisioner = 'mio';
  writeFileSync(join(dir, 'ca.json'), JSON.stringify({
    root: join(dir, 'root.crt'), crt: join(dir, 'intermediate.crt'), key: join(dir, 'intermediate.key'),
    address: `127.0.0.1:${port}`, dnsNames: ['127.0.0.1', 'localhost'], logger: { format: 'text' },
    db: { type: 'badgerv2', dataSource: join(dir, 'db') },
    authority: { provisioners: [{ type: 'JWK', name: provisioner, key: { ...pub, kid, alg: 'ES256', use: 'sig' }, encryptedKey,
      claims: { minTLSCertDuration: '5m', maxTLSCertDuration: '2160h', defaultTLSCertDuration: '24h' } }] },
    tls: { minVersion: 1.2, maxVersion: 1.3 },
  }));
  const proc = startProcess('step-ca', join(caServerBins(), 'step-ca'), [join(dir, 'ca.json')], join(dir, 'step-ca.log'));
  const url = `https://127.0.0.1:${port}`;
  await waitFor('step-ca healthy', async () => {
    if (proc.child.exitCode !== null) throw new Error('step-ca exited');
    return (await postJson(`${url}/health`, undefined, { method: 'GET', ca: root.certPem, timeoutMs: 2000 }).catch(() => undefined))?.status === 200;
  }, 30_000, 200);
  const signingKey = await jose.importJWK(priv, 'ES256');
  return {
    url, rootPem: root.certPem, provisioner, password,
    revokeToken: (serial) => new jose.SignJWT({}).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).setIssuer(provisioner).setAudience(`${url}/1.0/revoke`)
      .setSubject(serial).setIssuedAt().setNotBefore('-1m').setExpirationTime('5m').setJti(randomBytes(8).toString('hex')).sign(signingKey),
    stop: () => stopProc(proc),
  };
}
