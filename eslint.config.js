import tseslint from 'typescript-eslint';

// The limits src/ keeps (#14): complexity, depth, no non-null assertions, no object type assertions.
const SRC_LIMITS = 'error';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.local/**', 'coverage/**', 'deploy/**', 'config/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      complexity: ['error', 20],
      'max-depth': ['error', 4],
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // #14 (see SRC_LIMITS above); an exception carries an eslint-disable comment saying why
    files: ['src/**/*.ts'],
    rules: {
      complexity: [SRC_LIMITS, 12],
      'max-depth': [SRC_LIMITS, 3],
      '@typescript-eslint/no-non-null-assertion': SRC_LIMITS,
      'no-restricted-syntax': [
        SRC_LIMITS,
        {
          selector:
            'TSAsExpression > TSTypeLiteral, TSAsExpression > TSUnionType > TSTypeLiteral, TSAsExpression > TSIntersectionType > TSTypeLiteral',
          message: 'an object type assertion (as {…}) hides a missing parse: type the value (zod) or narrow it',
        },
      ],
    },
  },
  { files: ['test/**', 'scripts/**', 'bench/**'], rules: { 'no-console': 'off', complexity: 'off' } },
  { files: ['**/*.js'], rules: { 'no-console': 'off' } },
);
