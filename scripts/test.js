#!/usr/bin/env node
// `npm test`: the static checks of `npm run lint`, then jest (unit + integration against a real control plane), then a
// check that no process started by the tests is still running. Ends with CI's closing line
// `Tests: N passed, N failed` (each static check and the leftover check counts as one test).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(
    `Node ${process.versions.node} is too old: run through npm (node_modules/.bin/node is Node 24) or install Node 24.`,
  );
  process.exit(1);
}
const args = process.argv.slice(2);
const work = mkdtempSync(join(tmpdir(), 'mio-test-'));
const runId = randomUUID();
const env = {
  ...process.env,
  MIO_PID_REGISTRY: join(work, 'pids'),
  MIO_SUMMARY_FILE: join(work, 'summary.json'),
  MIO_RUN_ID: runId,
};
let passed = 0,
  failed = 0;
// Every step has a deadline: a hung step must end the run with a failure, never outlive CI's budget.
const step = (name, cmd, cmdArgs, timeoutMs = 15 * 60_000, stepEnv = env) => {
  const t0 = Date.now();
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', env: stepEnv, timeout: timeoutMs, killSignal: 'SIGKILL' });
  const ok = r.status === 0;
  const why = r.error?.code === 'ETIMEDOUT' ? ` after its deadline of ${timeoutMs / 60_000} min` : '';
  console.log(`[test] ${name}: ${ok ? 'ok' : 'FAILED'}${why} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  return ok;
};

// The static checks are the parts of `npm run lint` (read from package.json, so the two cannot drift
// apart), each run and counted on its own so that one failing check does not hide the others.
const STATIC_STEPS = [
  ...JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts.lint.matchAll(
    /npm run -s ([\w:-]+)/g,
  ),
].map((m) => m[1]);
if (STATIC_STEPS.length === 0) {
  console.error('package.json: the lint script names no `npm run -s <check>` steps');
  process.exit(1);
}
if (!args.includes('--no-static')) {
  for (const name of STATIC_STEPS) {
    if (step(name, 'npm', ['run', '--silent', name])) passed++;
    else failed++;
  }
}
// --forceExit: once the run is complete, a handle some test leaked must not keep jest (and CI) waiting;
// the leftover check below still reports any process the tests left behind.
const jestArgs = [
  '--experimental-vm-modules',
  'node_modules/jest/bin/jest.js',
  '--runInBand',
  '--forceExit',
  ...args.filter((a) => a !== '--no-static'),
];
/**
 * A step that does not block, so that two can run side by side. Its output goes to `logFile` when given (printed
 * whole when it ends, so two steps' lines never interleave), else straight to ours. Same deadline rule as step().
 */
const stepAside = (name, cmd, cmdArgs, timeoutMs, stepEnv, logFile) =>
  new Promise((resolve) => {
    const t0 = Date.now();
    const fd = logFile ? openSync(logFile, 'w') : undefined;
    const child = spawn(cmd, cmdArgs, { stdio: fd === undefined ? 'inherit' : ['ignore', fd, fd], env: stepEnv });
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (fd !== undefined) {
        closeSync(fd);
        process.stdout.write(readFileSync(logFile, 'utf8'));
      }
      const ok = code === 0 && !late;
      const why = late ? ` after its deadline of ${timeoutMs / 60_000} min` : '';
      console.log(`[test] ${name}: ${ok ? 'ok' : 'FAILED'}${why} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      resolve(ok);
    });
  });

/** Runs jest with `extra` arguments and environment; adds its totals (a run that failed outside any test counts one). */
const jest = async (name, extra, extraEnv = {}, logFile = undefined) => {
  const summary = join(work, `summary-${name.replace(/\W+/g, '-')}.json`);
  const ok = await stepAside(
    name,
    process.execPath,
    [...jestArgs, ...extra],
    Number(process.env.MIO_JEST_DEADLINE_MIN ?? 60) * 60_000,
    { ...env, ...extraEnv, MIO_SUMMARY_FILE: summary },
    logFile,
  );
  if (existsSync(summary)) {
    const s = JSON.parse(readFileSync(summary, 'utf8'));
    passed += s.passed;
    failed += s.failed;
    if (!ok && s.failed === 0) failed++; // jest failed outside any test (e.g. global setup)
  } else failed++;
};

// Compatibility: the files that show what must hold on every supported Kubernetes version, run again on
// each older one (the main run uses the default version, hack/control-plane-bins.sh DEFAULT_K8S).
// Each run starts a plane of that version in its global setup. Only on a full run (no jest arguments).
const COMMON = [
  'test/integration/crd-validation.test.ts', // the CRDs apply with their CEL rules
  'test/integration/issuance-formats.test.ts', // issuance
  'test/integration/policy.test.ts', // the admission webhook
  'test/integration/signer-api.test.ts', // the signer uses the served certificates.k8s.io version, or says none is
];
const COMPAT = {
  'v1.36.3': [...COMMON, 'test/integration/signer.test.ts'], // the v1beta1 signer issuing
  'v1.32.13': COMMON, // the oldest supported (chart kubeVersion): no PodCertificateRequest API
};
const compat = async () => {
  if (process.env.MIO_COMPAT === 'off') return;
  for (const [version, files] of Object.entries(COMPAT))
    await jest(
      `jest on Kubernetes ${version}`,
      files,
      { MIO_K8S_VERSION: version },
      join(work, `compat-${version}.log`),
    );
};

// A full run is two streams side by side. The real-node files (each brings its own plane and the one real
// node; they spend their time waiting for the kubelet, a stale grace, a rollout) and then the compatibility
// runs go beside the main run on the shared plane. MIO_PARALLEL=off runs everything one after another.
const jestFiles = args.filter((a) => a !== '--no-static');
const REAL_NODE = 'real-node';
if (jestFiles.length > 0) await jest('jest', []);
else if (process.env.MIO_PARALLEL === 'off') {
  await jest('jest', []);
  await compat();
} else {
  await Promise.all([
    jest('jest', ['--testPathIgnorePatterns', REAL_NODE, '/node_modules/']),
    (async () => {
      await jest(
        'jest: real-node files',
        ['--selectProjects', 'integration', '--', REAL_NODE],
        { MIO_NO_SHARED_PLANE: '1' },
        join(work, 'real-node.log'),
      );
      await compat();
    })(),
  ]);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), undefined once the process is gone. */
function startTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

// Leftovers: every process that inherited this run's id, and every PID the harness registered.
const leftovers = [];
for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
  if (Number(pid) === process.pid) continue;
  try {
    if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`MIO_RUN_ID=${runId}`))
      leftovers.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').slice(0, 120)}`);
  } catch {
    /* gone */
  }
}
if (existsSync(env.MIO_PID_REGISTRY)) {
  // a registered PID counts only while it is the same process (same start time): PIDs are reused
  for (const line of readFileSync(env.MIO_PID_REGISTRY, 'utf8').split('\n').filter(Boolean)) {
    const [pid, , ticks] = line.split(' ');
    const now = startTicks(pid);
    if (now !== undefined && (!ticks || now === ticks) && !leftovers.some((l) => l.startsWith(`${pid} `)))
      leftovers.push(line);
  }
}
if (leftovers.length === 0) {
  passed++;
  console.log('[test] no process started by the tests is left running: ok');
} else {
  failed++;
  console.log(`[test] processes left running after the tests (now killed):\n  ${leftovers.join('\n  ')}`);
  // killed so that none of them holds CI's output pipe open after this script exits
  for (const l of leftovers) {
    try {
      process.kill(Number(l.split(' ')[0]), 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}
rmSync(work, { recursive: true, force: true });
console.log(`\nTests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
