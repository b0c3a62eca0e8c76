// Static checks of the Helm chart and the Dockerfile that need no helm binary: values.yaml and the
// every-option CI values satisfy values.schema.json (checked by a small draft-07 subset validator),
// the schema covers every value, the Deployment passes the environment variables the entry point
// reads, and the image is built the way the chart expects to run it.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = join(ROOT, 'deploy/helm/machine-identity-operator');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  definitions?: Record<string, Schema>;
}

const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Schema & { $schema: string };
const values = yaml.load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const allValues = yaml.load(readFileSync(join(CHART, 'ci/all-values.yaml'), 'utf8')) as Record<string, unknown>;
const chart = yaml.load(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function resolveRef(s: Schema): Schema {
  if (!s.$ref) return s;
  const name = s.$ref.replace('#/definitions/', '');
  const target = schema.definitions?.[name];
  if (!target) throw new Error(`unresolved $ref ${s.$ref}`);
  return target;
}

function checkScalar(s: Schema, v: unknown, path: string): string[] {
  const errs: string[] = [];
  if (s.enum && !s.enum.includes(v)) errs.push(`${path}: ${JSON.stringify(v)} not in ${JSON.stringify(s.enum)}`);
  if (typeof v === 'string') {
    if (s.pattern && !new RegExp(s.pattern, 'u').test(v))
      errs.push(`${path}: ${JSON.stringify(v)} does not match ${s.pattern}`);
    if (s.minLength !== undefined && v.length < s.minLength) errs.push(`${path}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && v.length > s.maxLength) errs.push(`${path}: longer than ${s.maxLength}`);
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) errs.push(`${path}: below ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) errs.push(`${path}: above ${s.maximum}`);
  }
  return errs;
}

function checkObject(s: Schema, v: Record<string, unknown>, path: string): string[] {
  const errs = (s.required ?? []).filter((k) => !(k in v)).map((k) => `${path}.${k}: required`);
  for (const [k, child] of Object.entries(v)) {
    const prop = s.properties?.[k];
    if (prop) errs.push(...validate(prop, child, `${path}.${k}`));
    else if (s.additionalProperties === false) errs.push(`${path}.${k}: not allowed`);
    else if (typeof s.additionalProperties === 'object')
      errs.push(...validate(s.additionalProperties, child, `${path}.${k}`));
  }
  return errs;
}

/** The subset of JSON Schema draft-07 that values.schema.json uses. */
function validate(raw: Schema, v: unknown, path = '$'): string[] {
  const s = resolveRef(raw);
  const types = s.type === undefined ? undefined : [s.type].flat();
  const t = typeOf(v);
  if (types && !types.includes(t) && !(t === 'integer' && types.includes('number')))
    return [`${path}: ${t} is not ${types.join('|')}`];
  const errs = checkScalar(s, v, path);
  if (t === 'object') errs.push(...checkObject(s, v as Record<string, unknown>, path));
  if (t === 'array') {
    const arr = v as unknown[];
    if (s.minItems !== undefined && arr.length < s.minItems) errs.push(`${path}: fewer than ${s.minItems} items`);
    if (s.items) arr.forEach((item, i) => errs.push(...validate(s.items!, item, `${path}[${i}]`)));
  }
  return errs;
}

/** Paths of every leaf or object key in a values tree (arrays are leaves). */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (typeOf(v) !== 'object') return [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, c]) => [
    `${prefix}${k}`,
    ...keyPaths(c, `${prefix}${k}.`),
  ]);
}

describe('values.schema.json', () => {
  it('is a draft-07 schema that closes the top level', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
  });

  it('accepts the default values.yaml', () => {
    expect(validate(schema, values)).toEqual([]);
  });

  it('accepts the every-option CI values, which set every top-level value', () => {
    expect(validate(schema, allValues)).toEqual([]);
    expect(Object.keys(allValues).sort()).toEqual(Object.keys(values).sort());
  });

  it('declares every value of values.yaml (no value is left unchecked)', () => {
    const declared = Object.keys(schema.properties ?? {})
      .filter((k) => k !== 'global')
      .sort();
    expect(declared).toEqual(Object.keys(values).sort());
  });

  it.each([
    ['replicas as a string', { replicas: 'two' }, /replicas: string is not integer/],
    ['an unknown top-level key', { replica: 2 }, /replica: not allowed/],
    ['defaultAction Maybe', { policy: { defaultAction: 'Maybe' } }, /defaultAction/],
    ['a string boolean', { crds: { install: 'yes' } }, /crds.install/],
    ['an unknown log level', { logLevel: 'verbose' }, /logLevel/],
    ['a duration without unit', { leaderElection: { leaseDuration: '15' } }, /leaseDuration/],
    ['an image digest without algorithm', { image: { repository: 'x', digest: 'abc' } }, /digest/],
    ['a port out of range', { http: { port: 70000 } }, /http.port/],
    ['an IPv6 bind host', { http: { host: '::' } }, /http.host/],
    ['an env var without name', { extraEnv: [{ value: 'x' }] }, /extraEnv\[0\].name: required/],
    [
      'a rollout scope outside none|cluster|namespaces',
      { rbac: { rollout: { scope: 'everywhere' } } },
      /rbac.rollout.scope/,
    ],
    [
      'no Secret writes at all (the operator always writes Secrets)',
      { rbac: { secrets: { scope: 'none' } } },
      /rbac.secrets.scope/,
    ],
    [
      'a namespace that is not a DNS label',
      { rbac: { trustBundleConfigMaps: { scope: 'namespaces', namespaces: ['Payments'] } } },
      /rbac.trustBundleConfigMaps.namespaces\[0\]/,
    ],
    ['kubernetesBackend as a string', { rbac: { kubernetesBackend: 'yes' } }, /rbac.kubernetesBackend/],
    ['a probe concurrency of 0', { validation: { concurrency: 0 } }, /validation.concurrency/],
    ['a probe concurrency over 256', { validation: { concurrency: 1000 } }, /validation.concurrency/],
    ['a probe interval without unit', { validation: { interval: '3600' } }, /validation.interval/],
    [
      'an allowed CIDR without prefix length',
      { validation: { allowedEndpointCIDRs: ['10.0.0.1'] } },
      /allowedEndpointCIDRs\[0\]/,
    ],
    [
      'an allowed "CIDR" that is a host name',
      { validation: { allowedEndpointCIDRs: ['evil.example.com/32'] } },
      /allowedEndpointCIDRs\[0\]/,
    ],
    ['a reissue-loop threshold of 1', { validation: { reissueLoopThreshold: 1 } }, /validation.reissueLoopThreshold/],
    [
      'a stale alert threshold as a string',
      { prometheusRule: { servingStaleAfterSeconds: '5m' } },
      /servingStaleAfterSeconds/,
    ],
  ])('rejects %s', (_name, override, message) => {
    expect(validate(schema, { ...values, ...override }).join('\n')).toMatch(message);
  });
});

describe('values.yaml defaults', () => {
  it('has the documented defaults', () => {
    expect(values).toMatchObject({
      replicas: 2,
      image: { tag: '', digest: '', pullPolicy: 'IfNotPresent' },
      crds: { install: true, keep: true },
      leaderElection: {
        enabled: true,
        leaseName: 'machine-identity-operator',
        leaseDuration: '15s',
        renewDeadline: '10s',
        retryPeriod: '2s',
      },
      logLevel: 'info',
      workers: 16,
      policy: { defaultAction: 'Allow' },
      http: { host: '0.0.0.0', port: 8080 },
      metrics: { service: { enabled: true, port: 8080 }, serviceMonitor: { enabled: false } },
      podSecurityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      securityContext: {
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
      podDisruptionBudget: { enabled: true, minAvailable: 1 },
      priorityClassName: '',
      podAntiAffinity: 'soft',
      // probing is on, and dials only Pod addresses until a cluster admin allows a range
      validation: {
        enabled: true,
        interval: '1h',
        staleGrace: '2m',
        concurrency: 16,
        timeout: '5s',
        allowedEndpointCIDRs: [],
        reissueLoopThreshold: 6,
      },
      prometheusRule: { servingStaleAfterSeconds: 300, servingStaleFor: '2m' },
      // least privilege: opt-in features get no grant until asked for (docs/security.md)
      rbac: {
        secrets: { scope: 'cluster', namespaces: [] },
        trustBundleConfigMaps: { scope: 'none' },
        rollout: { scope: 'none' },
        kubernetesBackend: false,
      },
    });
  });

  it('documents every value with a comment (top-level keys, or each of their direct children)', () => {
    const lines = readFileSync(join(CHART, 'values.yaml'), 'utf8').split('\n');
    const commented = (i: number): boolean => (lines[i - 1] ?? '').trim().startsWith('#');
    const undocumented: string[] = [];
    lines.forEach((line, i) => {
      const top = /^([A-Za-z]\w*):/.exec(line);
      if (!top || commented(i)) return;
      for (let j = i + 1; j < lines.length && !/^[A-Za-z]/.test(lines[j]!); j++) {
        const child = /^  ([A-Za-z]\w*):/.exec(lines[j]!);
        if (child && !commented(j) && !/^\s{4}/.test(lines[j + 1] ?? '')) undocumented.push(`${top[1]}.${child[1]}`);
      }
    });
    expect(undocumented).toEqual([]);
    expect(keyPaths(values).length).toBeGreaterThan(40);
  });
});

describe('Chart.yaml', () => {
  it('is a v2 application chart for Kubernetes 1.32+ (the oldest version the compatibility run tests) shipping appVersion 0.1.0', () => {
    expect(chart).toMatchObject({
      apiVersion: 'v2',
      name: 'machine-identity-operator',
      type: 'application',
      kubeVersion: '>=1.32.0-0',
      appVersion: '0.1.0',
    });
  });
});

describe('the Deployment template and the entry point agree', () => {
  const deployment = readFileSync(join(CHART, 'templates/deployment.yaml'), 'utf8');
  const config = read('src/config.ts');
  const envNames = [...deployment.matchAll(/- name: (MIO_\w+|POD_NAME)/g)].map((m) => m[1]!);

  it('passes exactly the documented environment variables', () => {
    expect(envNames.sort()).toEqual([
      'MIO_ACME_HTTP01_ADDR',
      'MIO_ACME_HTTP01_SERVICE',
      'MIO_CLUSTER_DOMAIN',
      'MIO_CLUSTER_NAME',
      'MIO_DURABLE_KEYS',
      'MIO_HTTP_ADDR',
      'MIO_INVENTORY',
      'MIO_LEADER_ELECT',
      'MIO_LEASE_DURATION',
      'MIO_LEASE_NAME',
      'MIO_LOG_LEVEL',
      'MIO_NAMESPACE',
      'MIO_OWNER_KEYS',
      'MIO_PARSE_MAX_KDF_ITERATIONS',
      'MIO_PARSE_TIMEOUT',
      'MIO_PARSE_WORKERS',
      'MIO_PARSE_WORKER_HEAP_MB',
      'MIO_POD_IP',
      'MIO_POLICY_DEFAULT_ACTION',
      'MIO_REISSUE_RATE',
      'MIO_RENEW_DEADLINE',
      'MIO_RETRY_PERIOD',
      'MIO_SIGNER',
      'MIO_VALIDATION',
      'MIO_VALIDATION_ALLOWED_CIDRS',
      'MIO_VALIDATION_CONCURRENCY',
      'MIO_VALIDATION_INTERVAL',
      'MIO_VALIDATION_REISSUE_LOOP_THRESHOLD',
      'MIO_VALIDATION_STALE_GRACE',
      'MIO_VALIDATION_TIMEOUT',
      'MIO_WEBHOOK_ADDR',
      'MIO_WEBHOOK_CONFIG_NAME',
      'MIO_WEBHOOK_HOSTS',
      'MIO_WEBHOOK_SECRET',
      'MIO_WORKERS',
      'POD_NAME',
    ]);
  });

  it('passes only variables that src/config.ts reads', () => {
    for (const name of envNames) expect(config).toContain(name);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({
    image: m[1],
    name: m[2],
  }));

  it('is multi-stage on Node 24, type-checking with tsc and bundling with esbuild in the build stage', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(['build', 'runtime']));
    expect(dockerfile).toMatch(/RUN (--mount=\S+ )?npm ci\n/);
    expect(dockerfile).toContain('npx --no-install tsc -p tsconfig.build.json');
    expect(dockerfile).toContain('node scripts/bundle.ts');
  });

  it('runs production dependencies only, as 65532, with node dist/main.js', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/main.js"\]$/m);
    expect(dockerfile).toContain('COPY --from=build --chown=0:0 /src/dist ./dist');
    for (const l of ['title', 'description', 'version', 'revision', 'created', 'licenses']) {
      expect(dockerfile).toContain(`org.opencontainers.image.${l}=`);
    }
  });

  it('sends only the sources and manifests to the build context', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    expect(ignore).toEqual(
      expect.arrayContaining([
        '!package.json',
        '!package-lock.json',
        '!tsconfig.json',
        '!tsconfig.build.json',
        '!scripts/bundle.ts',
        '!src/',
      ]),
    );
  });
});
