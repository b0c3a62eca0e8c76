// Operator configuration: environment variables (set by the Helm chart), validated with zod.
import { z } from 'zod';
import { hostname } from 'node:os';

const DURATION = /^(\d+(\.\d+)?(ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration with units h, m, s, ms ("1h30m", "90s") into milliseconds. */
export function parseDurationMs(s: string): number {
  if (!DURATION.test(s)) throw new Error(`invalid duration ${JSON.stringify(s)} (expected e.g. 15s, 1h30m)`);
  let total = 0;
  for (const [, n, unit = ''] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    total += Number(n) * (UNIT_MS[unit] ?? Number.NaN);
  return total;
}

const duration = z.string().regex(DURATION, 'a duration such as 15s or 1h30m').transform(parseDurationMs);
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

const EnvSchema = z.object({
  MIO_NAMESPACE: z.string().min(1).optional(),
  POD_NAMESPACE: z.string().min(1).optional(),
  POD_NAME: z.string().min(1).optional(),
  MIO_HTTP_ADDR: z
    .string()
    .regex(/^[^:]*:\d{1,5}$/, 'host:port')
    .default('0.0.0.0:8080'),
  MIO_LEADER_ELECT: bool.default(true),
  MIO_LEASE_NAME: z.string().min(1).default('machine-identity-operator'),
  MIO_LEASE_DURATION: duration.default(15_000),
  MIO_RENEW_DEADLINE: duration.default(10_000),
  MIO_RETRY_PERIOD: duration.default(2_000),
  MIO_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  MIO_POLICY_DEFAULT_ACTION: z.enum(['Allow', 'Deny']).default('Allow'),
  MIO_CLUSTER_DOMAIN: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'a DNS domain')
    .default('cluster.local'),
  /** This cluster's name in a fleet (the chart's clusterName): carried by every Event the operator records. */
  MIO_CLUSTER_NAME: z
    .string()
    .max(63)
    .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, 'letters, digits, -, _ and . (a label value)')
    .default(''),
  MIO_WORKERS: z.coerce.number().int().min(1).max(64).default(16),
  MIO_DURABLE_KEYS: bool.default(false),
  MIO_REISSUE_RATE: z.coerce.number().min(0.1).max(10_000).default(20),
  /** host:port of the admission webhook, or "off". */
  MIO_WEBHOOK_ADDR: z
    .string()
    .regex(/^(off|[^:]*:\d{1,5})$/, 'host:port or off')
    .default('0.0.0.0:9443'),
  MIO_WEBHOOK_SECRET: z.string().min(1).max(253).default('machine-identity-operator-webhook-tls'),
  /** Names (and IPs) the serving certificate is for, comma-separated: the webhook Service's DNS names. */
  MIO_WEBHOOK_HOSTS: z.string().max(4096).default(''),
  /** ValidatingWebhookConfiguration whose caBundle the operator keeps; empty = none. */
  MIO_WEBHOOK_CONFIG_NAME: z.string().max(253).default(''),
  /** Discover and report every certificate in the cluster (needs list/watch of Secrets, ConfigMaps, Pods, ...). */
  MIO_INVENTORY: bool.default(true),
  /** Label and annotation keys naming a certificate's owner team, most preferred first (object, then namespace). */
  MIO_OWNER_KEYS: z.string().max(1024).default('machineidentity.io/owner,owner,team'),
  /** Act as the Kubernetes signer machineidentity.io/<binding> for bindings that ask (PodCertificateRequests, CSRs). */
  MIO_SIGNER: bool.default(true),
  // where the operator answers ACME HTTP-01 challenges (every replica answers those it presented)
  MIO_ACME_HTTP01_SERVICE: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/)
    .default('machine-identity-operator-acme-http01'),
  MIO_POD_IP: z.string().max(64).optional(),
  /** Worker threads that parse Secret/ConfigMap bytes from the cluster (each has its own heap: keep it small). */
  MIO_PARSE_WORKERS: z.coerce.number().int().min(1).max(8).default(1),
  /** A parse taking longer is stopped (its worker replaced) and reported as a finding. */
  MIO_PARSE_TIMEOUT: duration.default(5_000),
  /** Old-generation heap of each parse worker, MB. */
  MIO_PARSE_WORKER_HEAP_MB: z.coerce.number().int().min(16).max(1024).default(64),
  /** PBKDF2 iterations one PKCS#12 file may cost (MAC and every encrypted section summed), checked before deriving. */
  MIO_PARSE_MAX_KDF_ITERATIONS: z.coerce.number().int().min(1).max(100_000_000).default(1_000_000),
  /** Probe the endpoints that should serve each certificate (TLS handshakes to ready Pod addresses) and look for anomalies. */
  MIO_VALIDATION: bool.default(true),
  /** How often an endpoint that serves the current certificate is probed again. */
  MIO_VALIDATION_INTERVAL: duration.default(3_600_000),
  /** After a renewal an endpoint may serve the previous certificate this long (the kubelet's Secret volume update) before it is Stale. */
  MIO_VALIDATION_STALE_GRACE: duration.default(120_000),
  /** TLS handshakes in flight at once. */
  MIO_VALIDATION_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /** A handshake not done within this is Unreachable (timeout). */
  MIO_VALIDATION_TIMEOUT: duration.default(5_000),
  /** Comma-separated CIDRs whose EndpointSlice addresses may be dialled without a Pod behind them (default none). */
  MIO_VALIDATION_ALLOWED_CIDRS: z.string().max(4096).default(''),
  /** More issuances of one identity within an hour is a ReissueLoop anomaly. */
  MIO_VALIDATION_REISSUE_LOOP_THRESHOLD: z.coerce.number().int().min(2).max(10_000).default(6),
  MIO_ACME_HTTP01_ADDR: z
    .string()
    .regex(/^(off|(\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5})$/, 'host:port, [IPv6]:port or off')
    .default('0.0.0.0:8089'),
});

export interface OperatorConfig {
  namespace: string;
  identity: string;
  http: { host: string; port: number };
  leaderElection: {
    enabled: boolean;
    leaseName: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  logLevel: string;
  policyDefaultAction: 'Allow' | 'Deny';
  /** The cluster's DNS domain: which names a namespace owns by default (`<svc>.<ns>.svc.<clusterDomain>`). */
  clusterDomain: string;
  /** The cluster's name in a fleet (MIO_CLUSTER_NAME); undefined when not set. */
  clusterName?: string;
  workers: number;
  inventory: { enabled: boolean; ownerKeys: string[] };
  /** The parse pool (off the event loop) and the per-object budget of what it parses. */
  parse: { workers: number; timeoutMs: number; heapMb: number; maxKdfIterations: number };
  signer: { enabled: boolean };
  /** Validation of what is served, and anomalies (src/validation/). */
  validation: {
    enabled: boolean;
    intervalMs: number;
    staleGraceMs: number;
    concurrency: number;
    timeoutMs: number;
    allowedCidrs: string[];
    reissueLoopThreshold: number;
  };
  /** Undefined when MIO_ACME_HTTP01_ADDR is off. */
  acmeHttp01?: { host: string; port: number; serviceName: string; podIP?: string };
  /** Undefined when MIO_WEBHOOK_ADDR is off. */
  webhook?: { host: string; port: number; secretName: string; hosts: string[]; configName: string };
  issuance: {
    /** Store every new key in a Secret before signing, even for in-process CAs (always done for remote CAs). */
    durableKeys: boolean;
    /** Re-issuances per second per authority after a CA change or distrust. */
    reissueRatePerSecond: number;
  };
}

/** host:port or [IPv6]:port ([::]:port listens on IPv6 and IPv4); an empty host is 0.0.0.0. */
function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port: Number(addr.slice(i + 1)) };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const r = EnvSchema.safeParse(env);
  if (!r.success) {
    throw new Error(
      `invalid configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const e = r.data;
  if (e.MIO_RENEW_DEADLINE >= e.MIO_LEASE_DURATION)
    throw new Error('invalid configuration: MIO_RENEW_DEADLINE must be shorter than MIO_LEASE_DURATION');
  const config: OperatorConfig = {
    namespace: e.MIO_NAMESPACE ?? e.POD_NAMESPACE ?? 'machine-identity-system',
    identity: e.POD_NAME ?? hostname(),
    http: hostPort(e.MIO_HTTP_ADDR),
    leaderElection: {
      enabled: e.MIO_LEADER_ELECT,
      leaseName: e.MIO_LEASE_NAME,
      leaseDurationMs: e.MIO_LEASE_DURATION,
      renewDeadlineMs: e.MIO_RENEW_DEADLINE,
      retryPeriodMs: e.MIO_RETRY_PERIOD,
    },
    logLevel: e.MIO_LOG_LEVEL,
    policyDefaultAction: e.MIO_POLICY_DEFAULT_ACTION,
    clusterDomain: e.MIO_CLUSTER_DOMAIN,
    ...(e.MIO_CLUSTER_NAME ? { clusterName: e.MIO_CLUSTER_NAME } : {}),
    workers: e.MIO_WORKERS,
    signer: { enabled: e.MIO_SIGNER },
    inventory: {
      enabled: e.MIO_INVENTORY,
      ownerKeys: e.MIO_OWNER_KEYS.split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    },
    issuance: { durableKeys: e.MIO_DURABLE_KEYS, reissueRatePerSecond: e.MIO_REISSUE_RATE },
    validation: {
      enabled: e.MIO_VALIDATION,
      intervalMs: e.MIO_VALIDATION_INTERVAL,
      staleGraceMs: e.MIO_VALIDATION_STALE_GRACE,
      concurrency: e.MIO_VALIDATION_CONCURRENCY,
      timeoutMs: e.MIO_VALIDATION_TIMEOUT,
      allowedCidrs: e.MIO_VALIDATION_ALLOWED_CIDRS.split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      reissueLoopThreshold: e.MIO_VALIDATION_REISSUE_LOOP_THRESHOLD,
    },
    parse: {
      workers: e.MIO_PARSE_WORKERS,
      timeoutMs: e.MIO_PARSE_TIMEOUT,
      heapMb: e.MIO_PARSE_WORKER_HEAP_MB,
      maxKdfIterations: e.MIO_PARSE_MAX_KDF_ITERATIONS,
    },
  };
  if (e.MIO_ACME_HTTP01_ADDR !== 'off') {
    config.acmeHttp01 = {
      ...hostPort(e.MIO_ACME_HTTP01_ADDR),
      serviceName: e.MIO_ACME_HTTP01_SERVICE,
      ...(e.MIO_POD_IP ? { podIP: e.MIO_POD_IP } : {}),
    };
  }
  if (e.MIO_WEBHOOK_ADDR !== 'off') {
    const hosts = e.MIO_WEBHOOK_HOSTS.split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    config.webhook = {
      ...hostPort(e.MIO_WEBHOOK_ADDR),
      secretName: e.MIO_WEBHOOK_SECRET,
      hosts: hosts.length ? hosts : ['localhost'],
      configName: e.MIO_WEBHOOK_CONFIG_NAME,
    };
  }
  return config;
}
