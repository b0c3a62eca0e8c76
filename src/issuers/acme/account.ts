// The ACME account of one binding: its key (from the account-key Secret, created when absent), the
// client that speaks for it, and the binding's health (can the account be registered or found).
import type { KeyObject } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { IssuerReason } from '../../crds/reasons.ts';
import { CaUnreachable } from '../https-json.ts';
import type { AuthorityHealth } from '../types.ts';
import { AcmeClient } from './client.ts';
import { AcmeError } from './protocol.ts';
import { loadOrCreateAccountKey, parseAccountKey, AccountKeyError } from './account-key.ts';

export interface AccountOptions {
  directoryURL: string;
  email?: string;
  caBundle?: string;
  /** The account key PEM when its Secret exists already; otherwise the Secret is created (needs kc). */
  accountKeyPem?: string;
  accountKeySecret: string;
  kc?: k8s.KubeConfig;
  operatorNamespace: string;
  eab?: { keyID: string; hmacKey: Buffer };
  /** Roots the CA's chains lead to: ca.crt and the trust bundle. */
  rootCertificates?: string;
}

/** Why the account cannot be used, as the binding's Ready condition. */
export function unhealthy(e: unknown, server: string): AuthorityHealth {
  if (e instanceof AccountKeyError) return { ready: false, reason: IssuerReason.AccountKeyInvalid, message: e.message };
  if (e instanceof CaUnreachable) {
    return {
      ready: false,
      reason: IssuerReason.CAUnreachable,
      message: `ACME server ${server} cannot be reached: ${e.message}`,
    };
  }
  if (e instanceof AcmeError) {
    return {
      ready: false,
      reason: IssuerReason.AccountRegistrationFailed,
      message: `ACME server ${server} refused the account: ${e.message}`,
    };
  }
  return { ready: false, reason: IssuerReason.CAError, message: `ACME server ${server}: ${(e as Error).message}` };
}

export class AcmeAccount {
  private readonly o: AccountOptions;
  private client: Promise<AcmeClient> | undefined;

  constructor(o: AccountOptions) {
    this.o = o;
  }

  /** The client, built once (again after a failure or `forget`). */
  get(): Promise<AcmeClient> {
    this.client ??= this.build();
    this.client.catch(() => {
      this.client = undefined;
    });
    return this.client;
  }

  /** The server forgot the account: the next call registers it again. */
  forget(): void {
    this.client = undefined;
  }

  private async build(): Promise<AcmeClient> {
    const o = this.o;
    const where = `Secret ${o.operatorNamespace}/${o.accountKeySecret}`;
    let key: KeyObject;
    if (o.accountKeyPem) key = parseAccountKey(o.accountKeyPem, where);
    else if (o.kc) key = await loadOrCreateAccountKey(o.kc, o.operatorNamespace, o.accountKeySecret, o.directoryURL);
    else throw new AccountKeyError(`${where} does not exist`);
    return new AcmeClient({
      directoryURL: o.directoryURL,
      accountKey: key,
      ...(o.caBundle ? { ca: o.caBundle } : {}),
      ...(o.email ? { email: o.email } : {}),
      ...(o.eab ? { eab: o.eab } : {}),
    });
  }

  async health(): Promise<AuthorityHealth> {
    const server = this.o.directoryURL;
    try {
      const c = await this.get();
      await c.directory();
      const kid = await c.account();
      return {
        ready: true,
        reason: IssuerReason.Ready,
        message: `ACME server ${server}, account ${kid}`,
        ...(this.o.rootCertificates ? { caBundlePem: this.o.rootCertificates } : {}),
      };
    } catch (e) {
      return unhealthy(e, server);
    }
  }
}
