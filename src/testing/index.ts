/**
 * automagik-db/testing: run each test of your services in a transaction that is rolled back.
 *
 * @example
 * ```ts
 * import { createTestDb, withRollback } from 'automagik-db/testing'
 * ```
 */
export { withRollback, rollbackEach, type RollbackEach } from './rollback.js'
export { createTestDb, type TestDbOptions } from './test-db.js'
export { dbFixture } from './vitest.js'
