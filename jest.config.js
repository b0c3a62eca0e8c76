// Two projects: fast pure unit tests, and integration tests that share one real control plane
// (started once in globalSetup, stopped by PID in globalTeardown).
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
      module: { type: 'es6' },
    },
  ],
};
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  setupFiles: ['<rootDir>/test/setup/reflect.ts'],
};

export default {
  // a global option (jest ignores it per project); unit tests finish in milliseconds anyway
  testTimeout: 180000,
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
