// The ACME account key lives in a Secret in the operator's namespace (tls.key, PKCS#8 PEM), created
// with a new ECDSA P-256 key when absent. Losing it loses the account (and the right to revoke what it
// ordered), so it is created once and never rewritten; a Secret someone else made is used as it is.
import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';

const generate = promisify(generateKeyPair);

export class AccountKeyError extends Error {}

export function parseAccountKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AccountKeyError(`${where}: tls.key is not a PEM private key`);
  }
  const t = key.asymmetricKeyType;
  if (t !== 'ec' && t !== 'rsa' && t !== 'ed25519')
    throw new AccountKeyError(`${where}: an ACME account key must be ECDSA, RSA or Ed25519, not ${t}`);
  return key;
}

/** The key from the Secret, creating the Secret when it does not exist (a concurrent creator wins, and its key is used). */
export async function loadOrCreateAccountKey(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  directoryURL: string,
): Promise<KeyObject> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const where = `Secret ${namespace}/${name}`;
  const read = async (): Promise<KeyObject | undefined> => {
    try {
      const s = await core.readNamespacedSecret({ name, namespace });
      const pem = s.data?.['tls.key'];
      if (!pem)
        throw new AccountKeyError(
          `${where} has no tls.key: delete it to have a new account key generated, or add the key`,
        );
      return parseAccountKey(Buffer.from(pem, 'base64').toString('utf8'), where);
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  };
  const existing = await read();
  if (existing) return existing;
  const { privateKey } = await generate('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: {
          name,
          labels: { 'app.kubernetes.io/managed-by': 'machine-identity-operator' },
          annotations: {
            'machineidentity.io/acme-directory': directoryURL,
            'machineidentity.io/purpose': 'ACME account key: keep it; it owns the account and its orders',
          },
        },
        type: 'Opaque',
        data: { 'tls.key': Buffer.from(pem).toString('base64') },
      },
    });
    return privateKey;
  } catch (e) {
    if (statusOf(e) !== 409) throw e;
    const raced = await read();
    if (!raced) throw new AccountKeyError(`${where} was created and deleted concurrently`);
    return raced;
  }
}

/** The HTTP status of a failed client-node call (its ApiException carries it as `code`). */
function statusOf(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'number' ? e.code : undefined;
}
