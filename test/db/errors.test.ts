import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  CheckViolationError,
  ConflictError,
  DataLayerError,
  ForeignKeyError,
  NotNullError,
  QueryError,
  SerializationError,
  TimeoutError,
  ValidationError,
  type Db,
} from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

const failure = (p: Promise<unknown>): Promise<DataLayerError> =>
  p.then(
    () => {
      throw new Error('expected a failure')
    },
    (e: unknown) => e as DataLayerError,
  )

/** The driver's error is kept as `cause`, with the same SQLSTATE. */
const expectDriverCause = (err: DataLayerError, code: string): void => {
  expect(err).toBeInstanceOf(DataLayerError)
  expect(err.code).toBe(code)
  expect(err.cause).toBeInstanceOf(Error)
  expect((err.cause as { code?: string }).code).toBe(code)
}

describe('typed errors keep code, cause and constraint', () => {
  test('unique violation → ConflictError (23505) naming the constraint and table', async () => {
    await db.agents.create({ name: 'dup-agent', type: 't', model: 'm' })
    const err = await failure(db.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', ['dup-agent', 't', 'm']))
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).toMatchObject({ constraint: 'agents_name_key', table: 'agents', retryable: false })
    expect(err.detail).toContain('dup-agent')
    expectDriverCause(err, '23505')
  })

  test('missing referenced row → ForeignKeyError (23503)', async () => {
    const err = await failure(db.sessions.create({ userId: 2_000_000_000 }))
    expect(err).toBeInstanceOf(ForeignKeyError)
    expect(err).toMatchObject({ constraint: 'sessions_user_id_fkey', table: 'sessions' })
    expectDriverCause(err, '23503')
  })

  test('CHECK constraint → CheckViolationError (23514)', async () => {
    const err = await failure(db.query('INSERT INTO memories (name) VALUES ($1)', ['orphan']))
    expect(err).toBeInstanceOf(CheckViolationError)
    expect(err).toMatchObject({ constraint: 'memories_owner_check', table: 'memories' })
    expectDriverCause(err, '23514')
  })

  test('NULL in a NOT NULL column → NotNullError (23502) naming the column', async () => {
    const err = await failure(db.query('INSERT INTO agents (name, type, model) VALUES (NULL, $1, $2)', ['t', 'm']))
    expect(err).toBeInstanceOf(NotNullError)
    expect(err).toMatchObject({ column: 'name', table: 'agents' })
    expectDriverCause(err, '23502')
  })

  test('serialization failure → SerializationError (40001), retryable', async () => {
    const err = await failure(
      db.query(`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$`),
    )
    expect(err).toBeInstanceOf(SerializationError)
    expect(err.retryable).toBe(true)
    expectDriverCause(err, '40001')
  })

  test.runIf(backend === 'postgres')('statement timeout → TimeoutError (57014)', async () => {
    const err = await failure(
      db.transaction(async (tx) => {
        await tx.query(`SET LOCAL statement_timeout = '50ms'`)
        await tx.query('SELECT pg_sleep(5)')
      }),
    )
    expect(err).toBeInstanceOf(TimeoutError)
    expectDriverCause(err, '57014')
  })

  test('any other database error → QueryError with its SQLSTATE', async () => {
    const err = await failure(db.query('SELEKT 1'))
    expect(err).toBeInstanceOf(QueryError)
    expectDriverCause(err, '42601')
  })

  test('a typed error thrown inside a transaction reaches the caller unchanged', async () => {
    const err = await failure(
      db.transaction((tx) => tx.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', ['dup-agent', 't', 'm'])),
    )
    expect(err).toBeInstanceOf(ConflictError)
    expect(err.constraint).toBe('agents_name_key')
  })

  test('bad input → ValidationError naming each field, and nothing is written', async () => {
    const before = await db.agents.count({ activeOnly: false })
    const err = await failure(db.agents.create({ name: '', type: 't', model: '', config: [] as never }))
    expect(err).toBeInstanceOf(ValidationError)
    expect(err.code).toBe('VALIDATION')
    expect((err as ValidationError).fields.sort()).toEqual(['config', 'model', 'name'])
    expect(await db.agents.count({ activeOnly: false })).toBe(before)
  })
})
