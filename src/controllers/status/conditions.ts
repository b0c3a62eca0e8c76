// metav1.Condition bookkeeping: lastTransitionTime moves only when status changes.
type ConditionStatus = 'True' | 'False' | 'Unknown';
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

const MAX_MESSAGE = 32_768; // the API's limit for Condition.message

export function setCondition(
  existing: readonly Condition[] | undefined,
  c: ConditionInput,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const list = [...(existing ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message.slice(0, MAX_MESSAGE),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime:
      prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function removeCondition(list: readonly Condition[] | undefined, type: string): Condition[] {
  return (list ?? []).filter((c) => c.type !== type);
}
