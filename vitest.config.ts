import { defineConfig } from 'vitest/config'

// `npm test` runs the suite on embedded PGlite; `npm run test:pg` (mode "pg") runs the same suite
// on the PostgreSQL server at TEST_DATABASE_URL, each test file in a fresh database.
export default defineConfig(({ mode }) => ({
  test: {
    include: ['test/**/*.test.ts'],
    env: { AMDB_TEST_BACKEND: mode === 'pg' ? 'postgres' : 'pglite' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
}))
