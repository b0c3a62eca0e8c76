// @peculiar/x509 on node:crypto's native WebCrypto. reflect-metadata must load before @peculiar/x509
// (its tsyringe container needs it); ESM evaluates these imports in order.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
