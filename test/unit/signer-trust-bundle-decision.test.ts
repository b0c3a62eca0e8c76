// trustBundleAction: the ClusterTrustBundle publisher writes only what differs (a restart with nothing
// changed makes no write) and never leaves a bundle behind its signer; bundleBinding: which bundles the
// start-up sweep may take for ours.
import { describe, expect, it } from '@jest/globals';
import {
  bundleBinding,
  bundleName,
  trustBundleAction,
  type BundleAction,
  type BundleFields,
} from '../../src/controllers/signer/trust-bundle-decision.ts';

const labels = { 'app.kubernetes.io/managed-by': 'machine-identity-operator', 'machineidentity.io/binding': 'mesh' };
const want: BundleFields = { signerName: 'machineidentity.io/mesh', trustBundle: 'PEM-A', labels };

describe('trustBundleAction', () => {
  it.each<[string, BundleFields | undefined, BundleFields | undefined, BundleAction]>([
    ['no signer, no bundle: nothing (the start-up DELETE that answered 404 is gone)', undefined, undefined, 'none'],
    ['no signer (stopped signing, invalid or deleted binding), a bundle: delete', undefined, want, 'delete'],
    ['no signer, a bundle with other content: still delete', undefined, { signerName: 'x' }, 'delete'],
    ['a signer, no bundle: apply', want, undefined, 'apply'],
    ['a signer, the same bundle: nothing', want, { ...want }, 'none'],
    [
      'a signer, the same bundle with a label someone else added: nothing',
      want,
      { ...want, labels: { ...labels, team: 'a' } },
      'none',
    ],
    [
      'a signer, the bundle still carries a retired CA: apply',
      want,
      { ...want, trustBundle: 'PEM-A\nPEM-OLD' },
      'apply',
    ],
    ['a signer, a bundle edited by hand to another CA: apply', want, { ...want, trustBundle: 'PEM-B' }, 'apply'],
    [
      'a signer, our label removed: apply',
      want,
      { ...want, labels: { 'app.kubernetes.io/managed-by': 'machine-identity-operator' } },
      'apply',
    ],
    ['a signer, no labels at all: apply', want, { signerName: want.signerName, trustBundle: 'PEM-A' }, 'apply'],
  ])('%s', (_what, desired, current, action) => {
    expect(trustBundleAction(desired, current)).toBe(action);
  });
});

describe('bundleBinding', () => {
  it.each<[string | undefined, string | undefined, string | undefined]>([
    [bundleName('mesh'), 'machineidentity.io/mesh', 'mesh'],
    [bundleName('a.b-c'), 'machineidentity.io/a.b-c', 'a.b-c'],
    // a name of ours with another signer (which the API server would refuse anyway): not ours
    [bundleName('mesh'), 'machineidentity.io/other', undefined],
    ['example.com:mesh:ca', 'example.com/mesh', undefined],
    ['machineidentity.io:mesh:extra', 'machineidentity.io/mesh', undefined],
    ['plain-bundle', undefined, undefined],
    [undefined, undefined, undefined],
  ])('%s with signer %s → %s', (name, signer, binding) => {
    expect(bundleBinding(name, signer)).toBe(binding);
  });
});
