// CustomResourceDefinition objects built from the kind definitions.
import { GROUP, VERSION } from './common.ts';
import { KINDS } from './kinds.ts';
import type { KindDefinition } from './kinds.ts';
import { sortKeys, toOpenAPI } from './openapi.ts';
import type { JSONSchemaProps } from './openapi.ts';

const CRD_LABELS = {
  'app.kubernetes.io/name': 'machine-identity-operator',
  'app.kubernetes.io/part-of': 'machine-identity-operator',
};

const cache = new Map<string, JSONSchemaProps>();

/** The openAPIV3Schema of one kind (computed once; treat as read-only). */
export function objectOpenAPI(def: KindDefinition): JSONSchemaProps {
  let schema = cache.get(def.kind);
  if (!schema) cache.set(def.kind, (schema = computeOpenAPI(def)));
  return schema;
}

function computeOpenAPI(def: KindDefinition): JSONSchemaProps {
  return sortKeys({
    type: 'object',
    description: def.description,
    required: ['spec'],
    properties: {
      apiVersion: {
        type: 'string',
        description: 'APIVersion defines the versioned schema of this representation of an object.',
      },
      kind: {
        type: 'string',
        description: 'Kind is a string value representing the REST resource this object represents.',
      },
      metadata: def.maxNameLength
        ? { type: 'object', properties: { name: { type: 'string', maxLength: def.maxNameLength } } }
        : { type: 'object' },
      spec: toOpenAPI(def.spec),
      status: toOpenAPI(def.status),
    },
  });
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string> };
  spec: JSONSchemaProps;
}

function buildCrd(def: KindDefinition): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}`, labels: { ...CRD_LABELS } },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: def.listKind,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: def.categories,
      },
      scope: def.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema: JSON.parse(JSON.stringify(objectOpenAPI(def))) as JSONSchemaProps }, // not structuredClone: jest realms
        },
      ],
    },
  };
}

export function buildCrds(): CustomResourceDefinition[] {
  return KINDS.map(buildCrd);
}
