// metav1 shapes every kind shares: object metadata as in-process parsing needs it, conditions,
// observedGeneration and timestamps.
import { z } from 'zod';
import { mapList } from './common.ts';

export const Condition = z.object({
  type: z
    .string()
    .min(1)
    .max(316)
    .regex(
      /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
    )
    .describe('Type of condition in CamelCase, e.g. Ready.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition.'),
  observedGeneration: z
    .int()
    .min(0)
    .optional()
    .meta({ format: 'int64' })
    .describe('The .metadata.generation the condition was set from.'),
  lastTransitionTime: z.iso.datetime({ offset: true }).describe('When the condition last changed status.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe('A programmatic CamelCase identifier for the last transition.'),
  message: z.string().max(32768).describe('A human-readable message about the last transition.'),
});

/** `conditions` as a list-map keyed by type, so server-side apply merges them per type. */
export function conditions(description: string): z.ZodOptional<z.ZodArray<typeof Condition>> {
  return mapList(Condition, 32, ['type']).optional().describe(description);
}

export const ObservedGeneration = z
  .int()
  .min(0)
  .optional()
  .meta({ format: 'int64' })
  .describe('The .metadata.generation this status was computed from.');

/** A timestamp written by the controller (RFC 3339). */
export function timestamp(description: string): z.ZodOptional<z.ZodISODateTime> {
  return z.iso.datetime({ offset: true }).optional().describe(description);
}

/** Object metadata as far as in-process parsing cares; the API server validates the rest. */
export const ObjectMeta = z.looseObject({
  name: z.string().min(1).max(253),
  namespace: z.string().max(63).optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
});
