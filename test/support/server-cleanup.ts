/**
 * vitest globalSetup of `npm run test:pg`: the run leaves the shared server as it found it. Test
 * databases are dropped by their own close(); the template databases (and spares) that
 * createTestDb() builds to start test databases fast stay after a run by design, so the ones this
 * run created are dropped here at its end. Templates that existed before the run are left alone.
 */
import { withAdmin } from '../../src/testing/server-admin.js'
import { TEMPLATE_PREFIX } from '../../src/testing/server-template.js'
import { serverUrl } from './test-db.js'

const LIST = `SELECT datname FROM pg_database WHERE datname LIKE '${TEMPLATE_PREFIX}%'`

export default async function setup(): Promise<() => Promise<void>> {
  const before = new Set(await withAdmin(serverUrl, async (c) => (await c.query<{ datname: string }>(LIST)).rows.map((r) => r.datname)))
  return async () => {
    await withAdmin(serverUrl, async (c) => {
      const created = (await c.query<{ datname: string }>(LIST)).rows.map((r) => r.datname).filter((n) => !before.has(n))
      // Spares first: a template being copied cannot be dropped while a copy of it is made.
      for (const name of created.sort().reverse()) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    })
  }
}
