import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Db, Logger } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'

interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string | undefined
}

const records: LogRecord[] = []
const logger: Logger = {
  debug: (obj, msg) => records.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
  info: (obj, msg) => records.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
  warn: (obj, msg) => records.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
  error: (obj, msg) => records.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
}

// Looks like an API key; it must never reach a log record, whatever path the query takes.
const SECRET = 'sk-live-7Hq2ZxV9pL3mW8rT'

let db: Db
beforeAll(async () => {
  db = await openTestDb({ logger })
})
afterAll(() => db?.close())

describe('logger', () => {
  test('receives each query’s SQL text and duration, never parameter values', async () => {
    records.length = 0
    await db.query('SELECT $1::text AS token', [SECRET])
    await db.users.create({ email: `${SECRET.toLowerCase()}@example.com`, userData: { apiKey: SECRET } })
    await db.agents.create({ name: `agent-${SECRET}`, type: 't', model: 'm', config: { key: SECRET } })
    await db.batch('INSERT INTO users (email, phone_number) VALUES ($1, $2)', [[`b-${SECRET.toLowerCase()}@example.com`, SECRET]])
    await db.transaction(async (tx) => {
      await tx.query('SELECT $1::text', [SECRET])
      await tx.transaction((sp) => sp.query('SELECT $1::text', [SECRET]))
    })
    // Failing statements: PostgreSQL quotes the bad input in its message.
    await expect(db.query('SELECT $1::int', [SECRET])).rejects.toThrow(SECRET)
    await expect(db.query('SELECT $1::uuid', [SECRET])).rejects.toThrow()
    await expect(db.query('SELECT $1::jsonb', [`{"k": ${SECRET}}`])).rejects.toThrow()
    await expect(db.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [`agent-${SECRET}`, 't', 'm'])).rejects.toThrow()

    expect(records.length).toBeGreaterThan(8)
    const query = records.find((r) => r.obj.sql === 'SELECT $1::text AS token')
    expect(query).toMatchObject({ level: 'debug', msg: expect.stringContaining('query') })
    expect(typeof query?.obj.ms).toBe('number')
    expect(query?.obj.ms as number).toBeGreaterThanOrEqual(0)
    expect(records.some((r) => String(r.obj.sql).includes('insert into "agents"'))).toBe(true)

    const failed = records.find((r) => r.level === 'warn' && r.obj.sql === 'SELECT $1::int')
    expect(failed?.obj).toMatchObject({ code: '22P02', message: expect.stringContaining('invalid input syntax for type integer') })
    expect(records.find((r) => r.level === 'warn' && String(r.obj.sql).startsWith('INSERT INTO agents'))?.obj).toMatchObject({
      code: '23505',
    })

    for (const record of records) {
      const text = `${JSON.stringify(record)}\n${inspect(record, { depth: Infinity, showHidden: true })}`
      expect(text).not.toContain(SECRET)
      expect(text.toLowerCase()).not.toContain(SECRET.toLowerCase())
    }
  })
})
