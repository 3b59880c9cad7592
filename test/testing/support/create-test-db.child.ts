/**
 * One "test worker" of test-db-cache.test.ts: a separate process that calls createTestDb with an
 * app migration named NAME (cache CACHE_DIR on PGlite, or the server URL), checks the Db, and
 * prints one JSON line.
 */
import { sql, type Kysely } from 'kysely'
import { createTestDb } from '../../../src/testing/index.js'
import { snapshotFile } from '../../../src/testing/pglite-snapshot.js'
import { templateName } from '../../../src/testing/server-template.js'

const { NAME = '0001-child', CACHE_DIR, URL } = process.env
const migrations = {
  [NAME]: {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE child_marker (id int PRIMARY KEY)`.execute(db)
    },
  },
}
const db = URL ? await createTestDb({ url: URL, migrations, prefix: 'amdb_child' }) : await createTestDb({ embedded: true, cacheDir: CACHE_DIR, migrations })
try {
  const status = await db.migrationStatus()
  await db.query('INSERT INTO child_marker (id) VALUES (1)')
  console.log(
    JSON.stringify({
      migrations: status.length,
      pending: status.filter((m) => m.executedAt === null).length,
      backend: db.backend,
      key: URL ? templateName(migrations) : snapshotFile(CACHE_DIR ?? '', migrations),
    }),
  )
} finally {
  await db.close()
}
