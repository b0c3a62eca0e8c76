// Runs the real operator entry point (src/main.ts) as a child process against a test cluster.
import { join } from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { REPO_ROOT } from './control-plane.ts';
import { startProcess, stopProc, freePort, waitFor, type Proc } from './processes.ts';

export interface OperatorProcess {
  proc: Proc;
  port: number;
  url: string;
  logs(): string;
  /** JSON log lines parsed. */
  logLines(): Record<string, unknown>[];
  /** The operator's warnings and errors, and what it said about Events: for a failing wait's message. */
  trouble(): string;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `entry`: the script to run (default src/main.ts; benchmarks use dist/main.js, what the image runs). */
export async function startOperator(
  kubeconfigPath: string,
  env: Record<string, string> = {},
  entry = join(REPO_ROOT, 'src/main.ts'),
): Promise<OperatorProcess> {
  const port = await freePort();
  const logFile = join(mkdtempSync(join(tmpdir(), 'mio-op-')), 'operator.log');
  const proc = startProcess('operator', process.execPath, [entry], logFile, {
    env: {
      ...process.env,
      KUBECONFIG: kubeconfigPath,
      MIO_HTTP_ADDR: `127.0.0.1:${port}`,
      MIO_LOG_LEVEL: 'debug',
      MIO_WEBHOOK_ADDR: 'off',
      MIO_ACME_HTTP01_ADDR: 'off',
      ...env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  const logs = (): string => readFileSync(logFile, 'utf8');
  await waitFor(
    'operator /healthz',
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`operator exited: ${logs().slice(-2000)}`);
      return (await fetch(`${url}/healthz`)).ok;
    },
    60_000,
    200,
  );
  const logLines = (): Record<string, unknown>[] =>
    logs()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    proc,
    port,
    url,
    logs,
    logLines,
    trouble: () => {
      const lines = logLines().filter((l) => Number(l.level) >= 40 || /event/i.test(String(l.msg)));
      return `--- operator warnings/errors and Event notes (${lines.length}, last 40) ---\n${lines
        .slice(-40)
        .map((l) => JSON.stringify(l).slice(0, 400))
        .join('\n')}`;
    },
    async metric(name, labels = {}) {
      const text = await (await fetch(`${url}/metrics?name=${encodeURIComponent(name)}`)).text();
      let sum: number | undefined;
      for (const line of text.split('\n')) {
        const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const ls = Object.fromEntries(
          [...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
        );
        if (Object.entries(labels).every(([k, v]) => ls[k] === v)) sum = (sum ?? 0) + Number(m[4]);
      }
      return sum;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (signal === 'SIGKILL') {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await proc.exited;
        return;
      }
      await stopProc(proc, 15_000);
    },
  };
}
