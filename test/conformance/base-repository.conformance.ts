import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test as base, type TestAPI } from 'vitest'
import { ValidationError, type Db, type Logger } from '../../src/index.js'
import type { BaseRepository } from '../../src/repositories/base.repository.js'
import { cursorScope, encodeCursor } from '../../src/repositories/cursor.js'
import { dbFixture } from '../../src/testing/index.js'
import { openTestDb } from '../support/test-db.js'

/** The SQL text of every query the test Db ran (via its logger), to prove "before any SQL". */
export interface QueryLog {
  readonly logger: Logger
  readonly queries: string[]
  clear(): void
}

export function createQueryLog(): QueryLog {
  const queries: string[] = []
  const record = (obj: object) => {
    const sql = (obj as { sql?: unknown }).sql
    if (typeof sql === 'string') queries.push(sql)
  }
  const logger: Logger = { debug: record, info: record, warn: record, error: record }
  return { logger, queries, clear: () => void queries.splice(0) }
}

/** What a repository test file shares: one Db per file, a rolled-back transaction per test. */
export interface TestDbContext {
  /** `test` with a `db` fixture bound to the test's own transaction, rolled back at the end. */
  test: TestAPI<{ db: Db }>
  /** The root Db, for tests that need real concurrency (they clean up after themselves). */
  root(): Db
  log: QueryLog
}

/** Opens the file's Db in beforeAll and closes it in afterAll. Call at module top level. */
export function useTestDb(): TestDbContext {
  const log = createQueryLog()
  let testDb: Db | undefined
  beforeAll(async () => {
    testDb = await openTestDb({ logger: log.logger })
  })
  afterAll(async () => {
    await testDb?.close()
  })
  const root = (): Db => {
    if (testDb === undefined) throw new Error('the test Db is not open')
    return testDb
  }
  const test = base.extend<{ db: Db }>({ db: dbFixture(root) })
  return { test, root, log }
}

/** A name no other test uses. */
export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`

/** Awaits `promise`, expects a ValidationError naming `field`, and returns it. */
export async function expectValidation(promise: Promise<unknown>, field: string): Promise<ValidationError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, `expected a ValidationError naming ${field}`).toBeInstanceOf(ValidationError)
  const v = err as ValidationError
  expect(v.code).toBe('VALIDATION')
  expect(v.fields).toContain(field)
  return v
}

/** Invalid as an integer id and as a UUID. */
export const BAD_IDS: readonly unknown[] = [0, -1, 1.5, '1', 'not-a-uuid', 2 ** 31, null, undefined, NaN, '']

type Repo<T, Id extends number | string> = BaseRepository<T, Id> & { create(input: object): Promise<T> }

/** How one BaseRepository subclass is exercised by {@link describeRepositoryConformance}. */
export interface ConformanceSpec<T extends { id: Id; createdAt: Date; updatedAt: Date }, Id extends number | string, Ctx> {
  name: string
  ctx: TestDbContext
  repo(db: Db): Repo<T, Id>
  /** The entity class (for instanceof) and its fromPlain. */
  entity: new () => T
  fromPlain(plain: object): T
  /** Parent rows the inputs need (created once per test). */
  parents(db: Db): Promise<Ctx>
  /** A valid create input; `i` makes it distinct from the others of the same test. */
  input(ctx: Ctx, i: number): object
  /** JSON columns, which default to `{}`. */
  jsonFields: readonly (keyof T & string)[]
  /** An update that changes exactly these fields. */
  patch: Partial<T> & object
  /** The type of the page() key: an integer id, a bigint sequence, or a UUID. */
  pageKey: 'int' | 'bigint' | 'uuid'
  /** A well-formed id no row has. */
  missingId(): Id
}

/**
 * The behaviour every BaseRepository subclass shares: get / exists / count / create / update /
 * delete / page, validation before any SQL, and the toPlain/fromPlain round trip.
 */
export function describeRepositoryConformance<
  T extends { id: Id; createdAt: Date; updatedAt: Date; toPlain(): Record<string, unknown> },
  Id extends number | string,
  Ctx,
>(spec: ConformanceSpec<T, Id, Ctx>): void {
  const { test, log } = spec.ctx
  const make = async (db: Db, n: number): Promise<T[]> => {
    const ctx = await spec.parents(db)
    const rows: T[] = []
    for (let i = 0; i < n; i++) rows.push(await spec.repo(db).create(spec.input(ctx, i)))
    return rows
  }
  /** Expects `run` to throw ValidationError naming `field` without sending any SQL. */
  const rejectsBeforeSql = async (db: Db, run: () => Promise<unknown>, field: string) => {
    log.clear()
    const before = await spec.repo(db).count()
    expect(log.queries.length, 'the query log sees queries of the test transaction').toBeGreaterThan(0)
    log.clear()
    await expectValidation(run(), field)
    expect(log.queries, 'no SQL is sent for invalid input').toEqual([])
    expect(await spec.repo(db).count()).toBe(before)
  }

  describe(`${spec.name}: BaseRepository conformance`, () => {
    test('create returns the entity with its defaults: id, Date timestamps, {} JSON', async ({ db }) => {
      const [row] = await make(db, 1)
      expect(row).toBeInstanceOf(spec.entity)
      expect(row!.id).toBeDefined()
      expect(row!.createdAt).toBeInstanceOf(Date)
      expect(row!.updatedAt).toBeInstanceOf(Date)
      expect(Number.isNaN(row!.createdAt.getTime())).toBe(false)
      for (const field of spec.jsonFields) expect(row![field], field).toEqual({})
    })

    test('get returns the row, and null for an id no row has', async ({ db }) => {
      const [row] = await make(db, 1)
      expect(await spec.repo(db).get(row!.id)).toEqual(row)
      expect(await spec.repo(db).get(spec.missingId())).toBeNull()
    })

    test('exists is true for a row and false for a missing id', async ({ db }) => {
      const [row] = await make(db, 1)
      expect(await spec.repo(db).exists(row!.id)).toBe(true)
      expect(await spec.repo(db).exists(spec.missingId())).toBe(false)
    })

    test('count counts every row', async ({ db }) => {
      const before = await spec.repo(db).count()
      await make(db, 3)
      expect(await spec.repo(db).count()).toBe(before + 3)
    })

    test('update changes only the given fields and returns the row', async ({ db }) => {
      const [row] = await make(db, 1)
      // The updated_at trigger sets clock_timestamp() (not the transaction's now()): after a pause
      // longer than a JS Date's 1 ms resolution, the update's updatedAt is strictly later.
      await new Promise((resolve) => setTimeout(resolve, 5))
      const updated = await spec.repo(db).update(row!.id, spec.patch)
      expect(updated).toEqual({ ...row, ...spec.patch, updatedAt: updated!.updatedAt })
      expect(updated).toBeInstanceOf(spec.entity)
      expect(updated!.updatedAt.getTime(), 'updatedAt is set by the trigger on UPDATE').toBeGreaterThan(
        row!.updatedAt.getTime(),
      )
      expect(await spec.repo(db).get(row!.id)).toEqual(updated)
    })

    test('update of a missing id returns null and writes nothing', async ({ db }) => {
      const before = await spec.repo(db).count()
      expect(await spec.repo(db).update(spec.missingId(), spec.patch)).toBeNull()
      expect(await spec.repo(db).count()).toBe(before)
    })

    test('update with {} is a no-op returning the row unchanged', async ({ db }) => {
      const [row] = await make(db, 1)
      expect(await spec.repo(db).update(row!.id, {})).toEqual(row)
      expect(await spec.repo(db).update(spec.missingId(), {})).toBeNull()
    })

    test('delete is true when a row was deleted, false the second time', async ({ db }) => {
      const [row, other] = await make(db, 2)
      expect(await spec.repo(db).delete(row!.id)).toBe(true)
      expect(await spec.repo(db).get(row!.id)).toBeNull()
      expect(await spec.repo(db).exists(row!.id)).toBe(false)
      expect(await spec.repo(db).delete(row!.id)).toBe(false)
      expect(await spec.repo(db).get(other!.id)).toEqual(other)
    })

    test('page() visits every row exactly once, nextCursor null at the end', async ({ db }) => {
      const created = await make(db, 7)
      const total = await spec.repo(db).count()
      const seen: Id[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const page: Awaited<ReturnType<Repo<T, Id>['page']>> = await spec.repo(db).page({ limit: 3, cursor })
        expect(page.items.length).toBeLessThanOrEqual(3)
        page.items.forEach((item) => expect(item).toBeInstanceOf(spec.entity))
        seen.push(...page.items.map((item) => item.id))
        if (page.nextCursor !== null) expect(page.items).toHaveLength(3)
        cursor = page.nextCursor
        pages++
      } while (cursor !== null && pages < 100)
      expect(cursor).toBeNull()
      expect(seen).toHaveLength(total)
      expect(new Set(seen).size).toBe(total)
      for (const row of created) expect(seen).toContain(row.id)
      const all = await spec.repo(db).page({ limit: total })
      expect(all.items).toHaveLength(total)
      expect(all.nextCursor).toBeNull()
    })

    test('bad ids throw ValidationError naming id before any SQL', async ({ db }) => {
      const repo = spec.repo(db)
      for (const id of BAD_IDS) {
        const bad = id as Id
        await rejectsBeforeSql(db, () => repo.get(bad), 'id')
        await rejectsBeforeSql(db, () => repo.exists(bad), 'id')
        await rejectsBeforeSql(db, () => repo.update(bad, spec.patch), 'id')
        await rejectsBeforeSql(db, () => repo.delete(bad), 'id')
      }
    })

    test('bad limits and cursors throw ValidationError naming them before any SQL', async ({ db }) => {
      const repo = spec.repo(db)
      await make(db, 1)
      for (const limit of [0, -1, 1.5, 1001, '10', null]) {
        await rejectsBeforeSql(db, () => repo.page({ limit: limit as number }), 'limit')
      }
      const notCursors = ['garbage!', '', 'e30', Buffer.from('{"k":null}').toString('base64url'), 'x'.repeat(300)]
      const scope = cursorScope(`${spec.name}.page`)
      const wrong = WRONG_CURSORS[spec.pageKey].map((k) => encodeCursor(scope, [k]))
      // A well-formed key of the right type, but in a cursor of another method or other filters.
      const [first] = await make(db, 1)
      const elsewhere = [encodeCursor(cursorScope('users.list'), [first!.id]), encodeCursor(cursorScope(scope.method, [1]), [first!.id])]
      expect((await spec.repo(db).page({ cursor: encodeCursor(scope, [first!.id]) })).items).toBeInstanceOf(Array)
      for (const cursor of [...notCursors, ...wrong, ...elsewhere, encodeCursor(scope, [first!.id, 1]), 42]) {
        await rejectsBeforeSql(db, () => repo.page({ cursor: cursor as string }), 'cursor')
      }
      await rejectsBeforeSql(db, () => repo.page({ offset: 5 } as never), 'offset')
    })

    test('unknown input keys throw ValidationError naming the key', async ({ db }) => {
      const ctx = await spec.parents(db)
      const [row] = await make(db, 1)
      await rejectsBeforeSql(db, () => spec.repo(db).create({ ...spec.input(ctx, 99), user_id: 1 }), 'user_id')
      await rejectsBeforeSql(db, () => spec.repo(db).update(row!.id, { user_id: 1 } as never), 'user_id')
      await rejectsBeforeSql(db, () => spec.repo(db).update(row!.id, { created_at: new Date() } as never), 'created_at')
      expect(await spec.repo(db).get(row!.id)).toEqual(row)
    })

    test('toPlain()/fromPlain() round-trip, through JSON too, with Dates', async ({ db }) => {
      const [row] = await make(db, 1)
      const plain = row!.toPlain()
      expect(Object.getPrototypeOf(plain)).toBe(Object.prototype)
      expect(plain.createdAt).toBeInstanceOf(Date)
      expect(plain.id).toBe(row!.id)
      const back = spec.fromPlain(plain)
      expect(back).toBeInstanceOf(spec.entity)
      expect(back).toEqual(row)
      const viaJson = spec.fromPlain(JSON.parse(JSON.stringify(plain)) as object)
      expect(viaJson).toBeInstanceOf(spec.entity)
      expect(viaJson.createdAt).toBeInstanceOf(Date)
      expect(viaJson.createdAt.getTime()).toBe(row!.createdAt.getTime())
      expect(viaJson).toEqual(row)
    })
  })
}

/** Cursor keys of the wrong type for each kind of page key. */
const WRONG_CURSORS: Record<'int' | 'bigint' | 'uuid', (string | number)[]> = {
  int: ['abc', randomUUID(), '7', 0, -1, 1.5, 2 ** 31],
  bigint: ['abc', randomUUID(), '7', 0, -1, 1.5, 2 ** 53],
  uuid: ['abc', 'not-a-uuid', 7, 0],
}
