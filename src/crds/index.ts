// Public surface of the API definitions: types, schemas, parsers, CRD builders.
export * from './common.ts';
export * from './meta.ts';
export * from './machine-identity.ts';
export * from './certificate-authority-binding.ts';
export * from './certificate-authority-binding-parts.ts';
export * from './certificate-authority-binding-status.ts';
export * from './issuance-policy.ts';
export * from './kinds.ts';
export * from './parse.ts';
export { buildCrds } from './crd.ts';
export { renderGeneratedFiles } from './render.ts';
export * from './model.ts';
export * from './machine-identity-model.ts';
export * from './binding-model.ts';
