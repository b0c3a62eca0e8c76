// The shapes the validation layer passes between its parts: where a certificate should be served
// (targets.ts), what a TLS handshake saw there (the prober), and what that means for an identity
// (verdict.ts). Plain data: nothing here holds untrusted bytes, only facts extracted off the event loop.

/** Which API object says that an endpoint should serve a certificate. */
export type EndpointSource =
  'Service' | 'Ingress' | 'Gateway' | 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration' | 'APIService';

/** One address to dial: a ready endpoint of a Service, checked against the Pod that owns the IP. */
export interface EndpointAddress {
  ip: string;
  port: number;
  /** namespace/name of the Pod behind the address (undefined only for an address allowed by validation.allowedEndpointCIDRs). */
  pod?: string;
  /** Kind/name of the Pod's workload (Deployment/web), for remediation. */
  workload?: string;
}

/** One place a certificate should be served, and the addresses that serve it. */
export interface ServeTarget {
  /** Stable across rebuilds: `${source}/${namespace}/${name}/${service port}/${sni}`. */
  key: string;
  source: EndpointSource;
  /** The object that says so (cluster-scoped objects: namespace ''); a Gateway listener is `gateway#listener`. */
  namespace: string;
  name: string;
  /** The Secret whose certificate should be served there. */
  secret: { namespace: string; name: string };
  /** Server name to send ('' = no SNI: an IP-only identity). */
  sni: string;
  /** The Service whose EndpointSlices gave the addresses (an ingress or gateway controller's own Service for those). */
  service: { namespace: string; name: string; port: number };
  /** For webhook configurations and APIServices: the caBundle the API server trusts; the served chain must verify with it. */
  caBundlePem?: string;
  addresses: EndpointAddress[];
}

/** One certificate as the prober saw it (facts only, extracted in the probe worker). */
export interface ServedCert {
  /** Lower-case hex without leading zeros (same form as CertFacts.serialNumber). */
  serialNumber: string;
  /** Upper-case colon-separated SHA-256 of the DER (same form as CertFacts.fingerprintSHA256). */
  fingerprintSHA256: string;
  /** SHA-256 of the SubjectPublicKeyInfo, upper-case colon-separated hex. */
  publicKeySHA256: string;
  subjectDN: string;
  issuerDN: string;
  notBefore: number;
  notAfter: number;
  dnsNames: string[];
  ipAddresses: string[];
  isCA: boolean;
  selfSigned: boolean;
  authorityKeyId?: string;
  subjectKeyId?: string;
}

/** Why a probe got no certificate. */
export type ProbeError =
  | 'timeout' // no TLS answer within the handshake timeout
  | 'refused' // connection refused
  | 'unreachable' // no route, host unreachable, reset before any answer
  | 'not_tls' // the peer answered with something that is not TLS
  | 'tls_error' // a TLS alert or handshake failure before the certificate
  | 'over_budget' // the peer sent more than the prober reads (bytes or certificates)
  | 'address_not_allowed'; // the address is not one the prober may dial (never sent)

export interface ProbeRequest {
  ip: string;
  port: number;
  /** '' = no SNI. */
  sni: string;
}

interface ProbeCommon {
  /** Epoch ms when the probe finished. */
  at: number;
  durationMs: number;
}

export type ProbeResult =
  | (ProbeCommon & {
      ok: true;
      /** TLSv1, TLSv1.1, TLSv1.2, TLSv1.3. */
      protocol: string;
      /** OpenSSL cipher name (TLS_AES_128_GCM_SHA256, ECDHE-RSA-AES128-SHA, ...). */
      cipher: string;
      leaf: ServedCert;
      /** The certificates presented after the leaf, in order (at most MAX_CHAIN_RECORDED). */
      chain: ServedCert[];
      /** How many certificates the peer presented in all (leaf included). */
      presented: number;
      /** The server asked for a client certificate (mTLS). */
      clientCertRequested: boolean;
    })
  | (ProbeCommon & { ok: false; error: ProbeError; message: string });

/** What one endpoint means for the identity whose Secret it should serve. */
export type EndpointVerdict =
  | 'Current' // serves the Secret's current certificate with a chain that verifies
  | 'Stale' // serves an earlier certificate of the identity (or any other) past the grace period
  | 'AwaitingReload' // serves an earlier one, still inside the grace period after the renewal
  | 'Expired' // serves an expired certificate
  | 'IncompleteChain' // serves the current leaf without the intermediates needed to verify it
  | 'Untrusted' // a webhook or APIService endpoint whose caBundle does not verify what it serves
  | 'Unreachable' // no handshake
  | 'Pending'; // not probed yet

/** On a MachineIdentity: probe its endpoints now (what `kubectl mi validate` writes, an RFC 3339 time). */
export const VALIDATE_REQUESTED_AT = 'machineidentity.io/validate-requested-at';
/** On a Namespace (cluster admins only): anomaly kinds not reported there, comma-separated (AnomalyReason names, or `*`). */
export const MUTE_ANOMALIES = 'machineidentity.io/mute-anomalies';
/** On a Namespace: why they are muted (recorded with the muted findings). */
export const MUTE_REASON = 'machineidentity.io/mute-reason';
/** On a Service: which ports serve TLS when neither appProtocol nor the port name says so (comma-separated names or numbers). */
export const TLS_PORTS = 'machineidentity.io/tls-ports';
/** On an IngressClass or GatewayClass (cluster admins only): the controller's in-cluster Service, `namespace/name[:port]`. */
export const CONTROLLER_SERVICE = 'machineidentity.io/controller-service';
