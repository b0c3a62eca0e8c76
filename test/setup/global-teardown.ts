import type { ControlPlane } from '../harness/control-plane.ts';

export default async function globalTeardown(): Promise<void> {
  const cp = (globalThis as { __MIO_CP__?: ControlPlane }).__MIO_CP__;
  if (cp) await cp.stop();
}
