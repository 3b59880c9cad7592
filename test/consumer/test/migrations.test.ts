import { afterAll, expect, test } from 'vitest'
import { createTestDb, withRollback } from 'automagik-db/testing'
import type { AppDatabase } from '../src/app-db.js'
import { FeedbackRepository } from '../src/feedback.repository.js'
import { FeedbackService } from '../src/feedback.service.js'
import { seedSession } from './seed.js'

// Without vitest fixtures: withRollback works with any test runner.
const testDb = await createTestDb<AppDatabase>({ migrations: './migrations' })
afterAll(() => testDb.close())

test('withRollback runs the app code in a transaction that is always rolled back', async () => {
  const id = await withRollback(testDb, async (tx) => {
    const { session } = await seedSession(tx)
    const feedback = await new FeedbackService(tx).rateSession(session.id, 5)
    expect(await tx.repository(FeedbackRepository).exists(feedback.id)).toBe(true)
    return feedback.id
  })
  expect(await testDb.repository(FeedbackRepository).exists(id)).toBe(false)
  expect(await testDb.sessions.count()).toBe(0)
})

test("migrateDown undoes the latest migration (the app's), migrate applies it again", async () => {
  const agentColumns = async () =>
    (
      await testDb.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'agents'",
      )
    ).map((c) => c.column_name)
  expect(await agentColumns()).toContain('team')

  expect(await testDb.migrateDown()).toEqual(['0001-feedback'])
  const status = await testDb.migrationStatus()
  expect(status.at(-1)).toEqual({ name: '0001-feedback', owner: 'app', executedAt: null })
  expect(status.filter((m) => m.owner === 'automagik-db').every((m) => m.executedAt !== null)).toBe(true)
  expect(await agentColumns()).not.toContain('team')
  // automagik-db's repositories never depended on the app's column.
  await withRollback(testDb, async (tx) => {
    const { agent } = await seedSession(tx)
    expect(await tx.agents.getOrThrow(agent.id)).toEqual(agent)
  })

  expect(await testDb.migrate()).toEqual(['0001-feedback'])
  expect(await agentColumns()).toContain('team')
  expect((await testDb.migrationStatus()).every((m) => m.executedAt instanceof Date)).toBe(true)
})
