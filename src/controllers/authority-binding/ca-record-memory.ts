// The CA record (ca-continuity.ts) this process last wrote per binding, by uid: the binding cache may
// not show our own status write yet, and acting on an older record would treat our own new CA as a
// change again (a second rotation).
import type { BindingModel } from '../../crds/binding-model.ts';
import { caRecordOf } from './ca-continuity-result.ts';
import type { CaRecord } from './ca-continuity.ts';

export class CaRecordMemory {
  private readonly records = new Map<string, { uid: string | undefined; rec: CaRecord }>();

  /** Ours when it is about the same object, else what the binding's status says. */
  recordOf(name: string, b: BindingModel): CaRecord {
    const mem = this.records.get(name);
    return mem && mem.uid === b.metadata.uid ? structuredClone(mem.rec) : caRecordOf(b.status);
  }

  remember(name: string, b: BindingModel, rec: CaRecord | undefined): void {
    if (rec) this.records.set(name, { uid: b.metadata.uid, rec: structuredClone(rec) });
    else this.records.delete(name);
  }

  forget(name: string): void {
    this.records.delete(name);
  }
}
