import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Db } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'

// This file's Db is its own (a fresh PGlite, or a fresh server database): migrating it down does
// not affect any other test file.
let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

const tables = async (): Promise<string[]> =>
  (
    await db.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_name = ANY($1) ORDER BY table_name`,
      [['agents', 'users', 'sessions', 'messages', 'memories']],
    )
  ).map((r) => r.name)

describe('migrations', () => {
  test('migrate() is idempotent: a migrated database has nothing pending', async () => {
    expect(await db.migrate()).toEqual([])
    expect(await db.migrate()).toEqual([])
    expect(await tables()).toEqual(['agents', 'memories', 'messages', 'sessions', 'users'])
  })

  test('migrationStatus() lists every shipped migration with when it was applied', async () => {
    const status = await db.migrationStatus()
    expect(status.map((m) => m.name)).toEqual(['0001-initial-schema'])
    expect(status[0]?.executedAt).toBeInstanceOf(Date)
  })

  test('migrateDown() reverts the latest migration; migrate() applies it again', async () => {
    expect(await db.migrateDown()).toEqual(['0001-initial-schema'])
    expect(await tables()).toEqual([])
    expect((await db.migrationStatus())[0]?.executedAt).toBeNull()
    // Nothing left to revert.
    expect(await db.migrateDown()).toEqual([])

    expect(await db.migrate()).toEqual(['0001-initial-schema'])
    expect(await tables()).toEqual(['agents', 'memories', 'messages', 'sessions', 'users'])
    expect((await db.migrationStatus())[0]?.executedAt).toBeInstanceOf(Date)
    // The schema works again, triggers included.
    const agent = await db.agents.create({ name: 'after-remigrate', type: 't', model: 'm' })
    const updated = await db.agents.update(agent.id, { model: 'm2' })
    expect(updated?.updatedAt.getTime()).toBeGreaterThanOrEqual(agent.updatedAt.getTime())
    expect(await db.migrate()).toEqual([])
  })
})
