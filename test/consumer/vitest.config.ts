import { defineConfig } from 'vitest/config'

// Each test file starts one test database (`createTestDb`): on the server at TEST_DATABASE_URL
// when it is set, else embedded PGlite.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
