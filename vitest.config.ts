import { configDefaults, defineConfig } from 'vitest/config'

// `npm test` runs the suite on embedded PGlite; `npm run test:pg` (mode "pg") runs the same suite
// on the PostgreSQL server at TEST_DATABASE_URL, each test file in a fresh database.
// test/consumer/ is a separate app with its own vitest run against the packed package
// (test/consumer/run.sh): its tests import `automagik-db`, not this source tree.
export default defineConfig(({ mode }) => ({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/consumer/**'],
    env: { AMDB_TEST_BACKEND: mode === 'pg' ? 'postgres' : 'pglite' },
    // The server run drops the template databases it built (test/support/server-cleanup.ts).
    globalSetup: mode === 'pg' ? ['test/support/server-cleanup.ts'] : [],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
}))
