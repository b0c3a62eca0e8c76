// Reading a field of a value whose type we do not know (an error's cause, a thread's workerData)
// without pretending to know its shape.

/** `value[key]` when value is an object (or function), else undefined. */
export function propertyOf(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  return (value as Record<string, unknown>)[key];
}
