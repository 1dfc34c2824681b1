// Two projects: `unit` (pure stages and shared code, no servers) and `integration`
// (test/, against the real local stack). ESM TypeScript through ts-jest; type errors
// are caught by `tsc -p tsconfig.test.json`, so ts-jest only transpiles.
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }] },
};

export default {
  reporters: ['default', '<rootDir>/scripts/summary-reporter.cjs'],
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/services', '<rootDir>/shared', '<rootDir>/scripts', '<rootDir>/bin'], testMatch: ['**/*.test.ts'] },
    { ...common, displayName: 'integration', roots: ['<rootDir>/test'], testMatch: ['**/*.test.ts'] },
  ],
};
