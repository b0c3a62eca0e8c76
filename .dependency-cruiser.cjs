// The allowed import directions between the folders of src/ (issue #14), checked by `npm run lint`
// (`npm run lint:layers`). Type-only imports count (tsPreCompilationDeps): a type that crosses a
// layer boundary upwards is an import like any other.
//
//   controllers, webhook, cli, inventory, monitoring, parsing, main.ts   (the top: anything below)
//   issuers          CA backends; never the controllers (nor webhook/cli/inventory) that drive them
//   policy           only crds and pki
//   crds             the API model: only pki and runtime
//   runtime ⟂ pki    the ground floor: two general libraries that import nothing of ours, not even
//                    each other (neither needs the other; keeping them apart keeps both liftable)
//
// Tests (*.test.ts) may import across layers: they are not part of the layering.
const ourCode = '^src/';
const test = '[.]test[.]ts$';
// `to` of a rule that allows only `allowed` folders: everything under src/ except those.
const outside = (...allowed) => ({ path: ourCode, pathNot: allowed.map((d) => `^src/${d}/`) });

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle (type-only imports included): one of the modules belongs below the other.',
      from: { path: ourCode },
      to: { circular: true },
    },
    {
      name: 'pki-is-ground-floor',
      severity: 'error',
      comment: 'src/pki/ (keys, CSRs, certificates, DER, PEM, PKCS#12) imports nothing of ours outside src/pki/.',
      from: { path: '^src/pki/', pathNot: test },
      to: outside('pki'),
    },
    {
      name: 'runtime-is-ground-floor',
      severity: 'error',
      comment:
        'src/runtime/ (informer, work queue, reconcile loop, SSA, ...) imports nothing of ours outside src/runtime/.',
      from: { path: '^src/runtime/', pathNot: test },
      to: outside('runtime'),
    },
    {
      name: 'crds-only-above-ground-floor',
      severity: 'error',
      comment: 'src/crds/ (the API model) imports only src/pki/ and src/runtime/.',
      from: { path: '^src/crds/', pathNot: test },
      to: outside('crds', 'pki', 'runtime'),
    },
    {
      name: 'policy-only-crds-and-pki',
      severity: 'error',
      comment: 'src/policy/ (pure policy decisions) imports only src/crds/ and src/pki/.',
      from: { path: '^src/policy/', pathNot: test },
      to: outside('policy', 'crds', 'pki'),
    },
    {
      name: 'issuers-not-above',
      severity: 'error',
      comment: 'src/issuers/ (CA backends behind the Issuer interface) never imports the code that drives them.',
      from: { path: '^src/issuers/', pathNot: test },
      to: { path: ['^src/controllers/', '^src/webhook/', '^src/cli/', '^src/inventory/', '^src/main[.]ts$'] },
    },
    {
      name: 'src-not-tests-or-tools',
      severity: 'error',
      comment: 'Shipped code does not import tests, scripts or benchmarks.',
      from: { path: ourCode, pathNot: test },
      to: { path: ['^test/', '^scripts/', '^bench/'] },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing (a moved file whose importer was not updated).',
      from: { path: ourCode },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
