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
