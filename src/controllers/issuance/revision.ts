// Which revision an identity is at: the newer of its Secret's record and its status (a crash between
// the Secret write and the status write leaves the Secret ahead).
import type * as k8s from '@kubernetes/client-node';
import type { MachineIdentityModel } from '../../crds/index.ts';
import { readRecord } from './secret.ts';

export function currentRevision(mi: MachineIdentityModel, secret: k8s.V1Secret | undefined): number {
  return Math.max(readRecord(secret).revision ?? 0, mi.status?.revision ?? 0);
}

export function nextRevision(mi: MachineIdentityModel, secret: k8s.V1Secret | undefined): number {
  return currentRevision(mi, secret) + 1;
}
