import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { describe, expect, test } from 'vitest'
import { ConnectionError, Db, DbClosedError } from '../../src/index.js'
import { backend, openTestDb, serverUrl } from '../support/test-db.js'

describe('Db.connect', () => {
  test('backend tells which database it opened; `await using` closes it; then queries fail with DbClosedError', async () => {
    let leaked: Db
    {
      await using db = await openTestDb()
      leaked = db
      expect(db.backend).toBe(backend)
      expect(db.isTransaction).toBe(false)
      const [row] = await db.query<{ one: number }>('SELECT 1 AS one')
      expect(row?.one).toBe(1)
    }
    await expect(leaked.query('SELECT 1')).rejects.toBeInstanceOf(DbClosedError)
    await expect(leaked.agents.list()).rejects.toMatchObject({ name: 'DbClosedError', code: 'DB_CLOSED' })
    await expect(leaked.transaction(async () => 1)).rejects.toBeInstanceOf(DbClosedError)
    await expect(leaked.startTransaction()).rejects.toBeInstanceOf(DbClosedError)
    await expect(leaked.withConnection(async () => 1)).rejects.toBeInstanceOf(DbClosedError)
    // close() is idempotent.
    await expect(leaked.close()).resolves.toBeUndefined()
  })

  test.runIf(backend === 'pglite')('{ dataDir } keeps the embedded database on disk across close and reopen', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'amdb-datadir-'))
    try {
      const first = await Db.connect({ dataDir, migrate: true, embedded: true })
      expect(first.backend).toBe('pglite')
      const agent = await first.agents.create({ name: 'persisted', type: 'simple', model: 'gpt-4' })
      await first.close()

      const second = await Db.connect({ dataDir, embedded: true })
      try {
        // Already migrated: nothing pending, and the row written before close is still there.
        expect(await second.migrate()).toEqual([])
        expect((await second.agents.getByName('persisted'))?.id).toBe(agent.id)
      } finally {
        await second.close()
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 60_000)

  test.runIf(backend === 'postgres')(
    'String(db), JSON.stringify(db) and util.inspect(db) never contain the password',
    async () => {
      const url = new URL(serverUrl)
      url.username = 'postgres'
      url.password = 's3cretPW' // trust auth ignores it; it must still never be shown
      await using db = await Db.connect({ url: url.toString() })
      expect(db.backend).toBe('postgres')
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
      const views = [
        String(db),
        `${db}`,
        JSON.stringify(db),
        inspect(db),
        inspect(db, { depth: 10, showHidden: true }),
        inspect({ db }, { depth: 10 }),
        JSON.stringify(db.poolStats),
      ]
      for (const view of views) expect(view).not.toContain('s3cretPW')
      expect(String(db)).toContain('127.0.0.1:5432')
    },
  )

  test('a server that cannot be reached fails fast with ConnectionError, password not in the message', async () => {
    const started = Date.now()
    const err = await Db.connect({ url: 'postgres://postgres:s3cretPW@127.0.0.1:1/nowhere', connectTimeout: 2_000 }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(ConnectionError)
    const text = `${(err as Error).message}\n${(err as Error).stack}\n${inspect(err, { depth: 5 })}`
    expect(text).not.toContain('s3cretPW')
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})
