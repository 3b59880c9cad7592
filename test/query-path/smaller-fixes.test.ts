import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  BaseRepository,
  CheckViolationError,
  ConflictError,
  ConnectionError,
  ConstraintViolationError,
  DataLayerError,
  Db,
  ForeignKeyError,
  MisuseError,
  NotFoundError,
  NotNullError,
  repositories,
  ValidationError,
} from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

// Issue 8, item 7 and the error classes of its design section.

let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.runIf(backend === 'pglite')('embedded PGlite: SELF_DEADLOCK only when waiting could never end', () => {
  test('regression: work started in a transaction callback that outlives it waits for the connection instead of failing', async () => {
    let background!: Promise<unknown>
    await db.transaction(async (tx) => {
      await tx.query('SELECT 1')
      // Started inside the callback, runs on the root Db after the transaction has ended.
      background = (async () => {
        await sleep(50)
        return db.query('SELECT 1 AS audit')
      })()
    })
    // Another transaction holds the one connection while the background query asks for it.
    const other = db.transaction(async (tx) => {
      await sleep(200)
      return tx.query('SELECT 2 AS two')
    })
    await expect(background).resolves.toEqual([{ audit: 1 }])
    await expect(other).resolves.toEqual([{ two: 2 }])
  })

  test('a root query inside the callback of an open transaction still fails at once (MisuseError SELF_DEADLOCK)', async () => {
    const err = await db.transaction(() => db.query('SELECT 1')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MisuseError)
    expect(err).not.toBeInstanceOf(ConnectionError)
    expect(err).toMatchObject({ code: 'SELF_DEADLOCK' })
  })
})

test("regression: isolationLevel 'snapshot' is a ValidationError before any SQL (was 42601 from the server)", async () => {
  let ran = false
  const err = await db
    .transaction(
      async () => {
        ran = true
      },
      { isolationLevel: 'snapshot' as never },
    )
    .catch((e: unknown) => e)
  expect(err).toBeInstanceOf(ValidationError)
  expect((err as ValidationError).fields).toEqual(['isolationLevel'])
  expect(ran).toBe(false)
  await expect(db.startTransaction({ isolationLevel: 'snapshot' as never })).rejects.toBeInstanceOf(ValidationError)
})

describe('regression: dates before ~1900 keep their exact instant whatever the process TZ', () => {
  const zones = ['Europe/Amsterdam', 'America/New_York', 'Asia/Kolkata']
  const dates = [
    new Date('1900-01-01T00:00:00.000Z'),
    new Date('1850-06-15T12:34:56.789Z'),
    new Date('0001-01-01T00:00:00.000Z'),
    new Date(Date.UTC(-100, 2, 3, 4, 5, 6, 7)), // 101 BC
  ]
  let saved: string | undefined
  beforeAll(() => {
    saved = process.env.TZ
  })
  afterAll(() => {
    if (saved === undefined) delete process.env.TZ
    else process.env.TZ = saved
  })

  test.each(zones)('TZ=%s', async (zone) => {
    process.env.TZ = zone // Node re-reads TZ when it changes: local-time formatting now uses it
    const session = await db.sessions.create({})
    for (const date of dates) {
      const message = await db.messages.create({ sessionId: session.id, role: 'user', createdAt: date })
      const back = await db.messages.get(message.id)
      expect(back?.createdAt.toISOString()).toBe(date.toISOString())
    }
  })
})

describe('NotFoundError is thrown by getOrThrow on every repository', () => {
  const missing: Record<string, number | string> = {
    agents: 2_000_000_000,
    users: 2_000_000_000,
    sessions: '00000000-0000-4000-8000-000000000000',
    messages: '00000000-0000-4000-8000-000000000000',
    memories: '00000000-0000-4000-8000-000000000000',
  }
  // Every table repository (context has no table and no getOrThrow).
  const tables = Object.entries(repositories).filter(([, Repo]) => Repo.prototype instanceof BaseRepository).map(([name]) => name)
  test('every table repository is covered', () => expect(tables).toEqual(Object.keys(missing)))
  test.each(tables)('%s.getOrThrow', async (name) => {
    const repo = (db as unknown as Record<string, { getOrThrow(id: unknown): Promise<unknown> }>)[name]!
    const err = await repo.getOrThrow(missing[name]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect(err).toMatchObject({ code: 'NOT_FOUND', table: name })
  })

  test('and returns the row when it exists', async () => {
    const agent = await db.agents.create({ name: `found-${Date.now()}`, type: 't', model: 'm' })
    await expect(db.agents.getOrThrow(agent.id)).resolves.toMatchObject({ id: agent.id })
  })
})

describe('error classes', () => {
  test('constraint violations share ConstraintViolationError', async () => {
    const name = `dup-${Date.now()}`
    await db.users.create({ email: `${name}@example.com` })
    const conflict = await db.query('INSERT INTO users (email) VALUES ($1)', [`${name}@example.com`]).catch((e: unknown) => e)
    const fk = await db.sessions.create({ userId: 2_000_000_000 }).catch((e: unknown) => e)
    const check = await db.query("INSERT INTO memories (name) VALUES ('nobody owns me')").catch((e: unknown) => e)
    const notNull = await db.query('INSERT INTO agents (name, type, model) VALUES (NULL, $1, $1)', ['t']).catch((e: unknown) => e)
    for (const [err, Class] of [
      [conflict, ConflictError],
      [fk, ForeignKeyError],
      [check, CheckViolationError],
      [notNull, NotNullError],
    ] as const) {
      expect(err).toBeInstanceOf(Class)
      expect(err).toBeInstanceOf(ConstraintViolationError)
      expect(err).toBeInstanceOf(DataLayerError)
    }
  })

  test('misuse is a MisuseError, not a connection failure', async () => {
    const err = await db.transaction((tx) => tx.close()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MisuseError)
    expect(err).not.toBeInstanceOf(ConnectionError)
    expect(err).toMatchObject({ code: 'MISUSE' })
  })
})

test('Db has one getter per registry entry, on the root and on a transaction', async () => {
  const names = Object.keys(repositories)
  expect(names).toEqual(['agents', 'users', 'sessions', 'messages', 'memories', 'context'])
  await db.transaction(async (tx) => {
    for (const name of names) {
      const Repo = repositories[name as keyof typeof repositories]
      expect((db as unknown as Record<string, unknown>)[name]).toBeInstanceOf(Repo)
      expect((tx as unknown as Record<string, unknown>)[name]).toBeInstanceOf(Repo)
      expect((tx as unknown as Record<string, unknown>)[name]).not.toBe((db as unknown as Record<string, unknown>)[name])
    }
  })
})
