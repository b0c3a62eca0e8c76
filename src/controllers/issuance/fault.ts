// Test-only fault injection for the crash tests: MIO_CRASH_AT=<point> makes the process SIGKILL itself
// at that step of an issuance, exactly as an OOM kill or node loss would. Unset in production.
export type CrashPoint =
  | 'after-keygen'
  | 'after-key-stored'
  | 'after-sign'
  | 'after-secret-write'
  | 'after-status-write'
  | 'after-pending-status';

const at = process.env.MIO_CRASH_AT;

export function crashPoint(point: CrashPoint): void {
  if (at === point) process.kill(process.pid, 'SIGKILL');
}
