import { randomUUID } from 'node:crypto'
import { afterAll, expect, test as base } from 'vitest'
import { CheckViolationError, ForeignKeyError, NotFoundError, ValidationError } from 'automagik-db'
import { createTestDb, dbFixture } from 'automagik-db/testing'
import type { AppDatabase, AppDb } from '../src/app-db.js'
import { FeedbackRepository } from '../src/feedback.repository.js'
import { FeedbackService } from '../src/feedback.service.js'
import { seedSession } from './seed.js'

// One test database for this file (TEST_DATABASE_URL, else embedded PGlite), migrated with
// automagik-db's migrations and the app's; each test gets its own transaction, rolled back.
const testDb = await createTestDb<AppDatabase>({ migrations: './migrations' })
afterAll(() => testDb.close())
const test = base.extend<{ db: AppDb }>({ db: dbFixture(testDb) })

test("the app's migration ran after automagik-db's, each marked by owner", async ({ db }) => {
  const status = await db.migrationStatus()
  expect(status.filter((m) => m.owner === 'app').map((m) => m.name)).toEqual(['0001-feedback'])
  expect(status.filter((m) => m.owner === 'automagik-db').length).toBeGreaterThan(0)
  expect(status.findIndex((m) => m.owner === 'app')).toBe(status.length - 1)
  expect(status.every((m) => m.executedAt instanceof Date)).toBe(true)
})

test('rateSession finishes the session and records the rating in one transaction', async ({ db }) => {
  const { session } = await seedSession(db)
  const feedback = await new FeedbackService(db).rateSession(session.id, 4, 'helpful')
  expect(feedback).toMatchObject({ sessionId: session.id, rating: 4, comment: 'helpful' })
  expect(feedback.createdAt).toBeInstanceOf(Date)
  expect(await db.repository(FeedbackRepository).listBySession(session.id)).toEqual([feedback])
  expect((await db.sessions.getOrThrow(session.id)).runFinishedAt).toBeInstanceOf(Date)
})

test('a rejected rating leaves the session unfinished: the service transaction rolled back', async ({ db }) => {
  const { session } = await seedSession(db)
  const service = new FeedbackService(db)
  await expect(service.rateSession(session.id, 9)).rejects.toBeInstanceOf(ValidationError)
  expect((await db.sessions.getOrThrow(session.id)).runFinishedAt).toBeNull()
  expect(await db.repository(FeedbackRepository).count()).toBe(0)
  await expect(service.rateSession(randomUUID(), 5)).rejects.toBeInstanceOf(NotFoundError)
})

test('tx.repository() writes inside the transaction: a throw rolls the write back', async ({ db }) => {
  const { session } = await seedSession(db)
  const feedback = db.repository(FeedbackRepository)
  expect(db.repository(FeedbackRepository)).toBe(feedback) // one per Db
  await expect(
    db.transaction(async (tx) => {
      const inTx = tx.repository(FeedbackRepository)
      expect(inTx).not.toBe(feedback)
      await inTx.create({ sessionId: session.id, rating: 3 })
      expect(await inTx.count()).toBe(1)
      throw new Error('changed my mind')
    }),
  ).rejects.toThrow('changed my mind')
  expect(await feedback.count()).toBe(0)
})

test("automagik-db's repositories keep working with the app's column on agents", async ({ db }) => {
  const { agent } = await seedSession(db)
  const service = new FeedbackService(db)
  const assigned = await service.assignTeam(agent.id, 'support')
  expect(assigned).toMatchObject({ id: agent.id, name: agent.name })
  expect(assigned).not.toHaveProperty('team')
  expect(await db.agents.update(agent.id, { description: 'triage' })).toMatchObject({ description: 'triage' })
  expect((await db.agents.list()).map((a) => a.id)).toContain(agent.id)
  const row = await db.kysely.selectFrom('agents').select(['team', 'description']).where('id', '=', agent.id).executeTakeFirstOrThrow()
  expect(row).toEqual({ team: 'support', description: 'triage' })
})

test("a query joins the app's table with automagik-db's", async ({ db }) => {
  const service = new FeedbackService(db)
  const a = await seedSession(db, 'alpha')
  const b = await seedSession(db, 'alpha')
  const c = await seedSession(db, 'beta')
  for (const { agent } of [a, c]) await service.assignTeam(agent.id, 'support')
  await service.rateSession(a.session.id, 4)
  await service.rateSession(b.session.id, 5)
  await service.rateSession(c.session.id, 2)
  expect(await service.teamRatings('support')).toEqual([
    { agentId: a.agent.id, name: 'alpha', ratings: 2, average: 4.5 },
    { agentId: c.agent.id, name: 'beta', ratings: 1, average: 2 },
  ])
})

test('BaseRepository gives the app repository get, exists, count, update, delete and page', async ({ db }) => {
  const { session } = await seedSession(db)
  const repo = db.repository(FeedbackRepository)
  const created = []
  for (const rating of [1, 2, 3]) created.push(await repo.create({ sessionId: session.id, rating }))
  const [first, second, third] = created as [typeof created[0], typeof created[0], typeof created[0]]

  expect(await repo.get(first.id)).toEqual(first)
  expect(await repo.exists(second.id)).toBe(true)
  expect(await repo.count()).toBe(3)
  expect(await repo.update(second.id, { comment: 'better now', rating: 5 })).toMatchObject({ id: second.id, rating: 5, comment: 'better now' })
  expect(await repo.get(second.id)).toMatchObject({ rating: 5, sessionId: session.id })

  const page1 = await repo.page({ limit: 2 })
  expect(page1.items.map((f) => f.id)).toEqual([first.id, second.id])
  const page2 = await repo.page({ limit: 2, cursor: page1.nextCursor })
  expect(page2.items.map((f) => f.id)).toEqual([third.id])
  expect(page2.nextCursor).toBeNull()

  expect(await repo.delete(third.id)).toBe(true)
  expect(await repo.delete(third.id)).toBe(false)
  expect(await repo.get(third.id)).toBeNull()
  await expect(repo.getOrThrow(third.id)).rejects.toBeInstanceOf(NotFoundError)
  expect(await repo.update(third.id, { rating: 4 })).toBeNull()
})

test('bad writes are typed errors: before any SQL, or from the app schema\'s constraints', async ({ db }) => {
  const { session } = await seedSession(db)
  const repo = db.repository(FeedbackRepository)
  const feedback = await repo.create({ sessionId: session.id, rating: 3 })
  // A key that is not a field: rejected before any SQL (the types reject it at compile time too).
  const err = await repo.update(feedback.id, { ratin: 4 } as never).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(ValidationError)
  expect((err as ValidationError).fields).toEqual(['ratin'])
  await expect(repo.get(0)).rejects.toBeInstanceOf(ValidationError)
  // The migration's CHECK (rating BETWEEN 1 AND 5) and foreign key, as typed errors. A failed
  // statement aborts the transaction it runs in, so each runs in its own savepoint.
  const check = db.transaction((tx) => tx.repository(FeedbackRepository).update(feedback.id, { rating: 6 }))
  await expect(check).rejects.toBeInstanceOf(CheckViolationError)
  const fk = db.transaction((tx) => tx.repository(FeedbackRepository).create({ sessionId: randomUUID(), rating: 3 }))
  await expect(fk).rejects.toBeInstanceOf(ForeignKeyError)
  expect(await repo.get(feedback.id)).toEqual(feedback)
})

test("deleting automagik-db's session deletes its feedback (the app's ON DELETE CASCADE)", async ({ db }) => {
  const { session } = await seedSession(db)
  const repo = db.repository(FeedbackRepository)
  const feedback = await repo.create({ sessionId: session.id, rating: 5 })
  expect(await db.sessions.delete(session.id)).toBe(true)
  expect(await repo.exists(feedback.id)).toBe(false)
})

test('every test starts from an empty table: the writes of the tests before were rolled back', async ({ db }) => {
  expect(await db.repository(FeedbackRepository).count()).toBe(0)
  expect(await db.kysely.selectFrom('agents').select('id').where('team', 'is not', null).execute()).toEqual([])
})
