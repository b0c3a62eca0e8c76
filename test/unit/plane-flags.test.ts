import { describe, it, expect } from '@jest/globals';
import { gateArgs, minorOf, planeFlags, runtimeConfigArgs } from '../harness/plane-flags.ts';

describe('minorOf', () => {
  it.each([
    ['v1.37.2', 37],
    ['1.36.3', 36],
    ['Kubernetes v1.32.13', 32],
  ])('%s -> %d', (v, m) => expect(minorOf(v)).toBe(m));
  it('refuses what is not a version', () => expect(() => minorOf('latest')).toThrow(/not a Kubernetes version/));
});

describe('planeFlags', () => {
  it.each([
    // version, --feature-gates, --runtime-config, PodCertificateRequest served, ClusterTrustBundle served, PCR cleaner
    ['v1.32.13', [], [], null, null, false],
    [
      'v1.36.3',
      ['--feature-gates=PodCertificateRequest=true,ClusterTrustBundle=true,ClusterTrustBundleProjection=true'],
      ['--runtime-config=certificates.k8s.io/v1beta1=true'],
      'v1beta1',
      'v1beta1',
      true,
    ],
    ['v1.37.2', [], [], 'v1', 'v1', true],
  ] as const)('%s', (version, gates, runtime, pcr, ctb, cleaner) => {
    const f = planeFlags(version);
    expect(gateArgs(f)).toEqual(gates);
    expect(runtimeConfigArgs(f)).toEqual(runtime);
    expect(f.podCertificateRequest).toBe(pcr);
    expect(f.clusterTrustBundle).toBe(ctb);
    expect(f.controllers.includes('podcertificaterequest-cleaner-controller')).toBe(cleaner);
    expect(f.controllers).toContain('certificatesigningrequest-signing-controller');
  });

  it('never names a gate for a version without it (an unknown gate stops the apiserver)', () => {
    // PodCertificateRequest appeared in 1.34; on 1.37 it is GA and on by default
    expect(planeFlags('v1.32.13').featureGates.join(',')).not.toMatch(/PodCertificateRequest/);
    expect(planeFlags('v1.37.2').featureGates).toEqual([]);
  });

  it('refuses a minor it has no entry for, naming the supported ones', () => {
    expect(() => planeFlags('v1.34.2')).toThrow(
      'no control-plane flags for Kubernetes v1.34.2; supported minors: 1.32, 1.36, 1.37',
    );
  });
});
