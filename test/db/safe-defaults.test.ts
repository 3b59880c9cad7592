// Issue 9, section 5: no silent in-memory database in production. With NODE_ENV=production,
// Db.connect() with no url, DATABASE_URL, dataDir or `embedded: true` refuses to start
// (DataLayerError NO_DATABASE, saying how to choose); elsewhere the in-memory fallback logs one
// warning through the logger. Explicit choices, and automagik-db/testing, are never affected.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { DataLayerError, Db } from '../../src/index.js'
import { createTestDb } from '../../src/testing/index.js'
import { recordingLogger } from '../faults/support/logger.js'
import { backend, serverUrl } from '../support/test-db.js'

const saved = { NODE_ENV: process.env.NODE_ENV, DATABASE_URL: process.env.DATABASE_URL, TEST_DATABASE_URL: process.env.TEST_DATABASE_URL }
function setEnv(name: keyof typeof saved, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}
beforeEach(() => setEnv('DATABASE_URL', undefined))
afterEach(() => {
  setEnv('NODE_ENV', saved.NODE_ENV)
  setEnv('DATABASE_URL', saved.DATABASE_URL)
  setEnv('TEST_DATABASE_URL', saved.TEST_DATABASE_URL)
})

const IN_MEMORY = 'in-memory embedded database'
// Each case starts a database (PGlite: WASM start), slow on a loaded machine.
const SLOW = { timeout: 120_000 }

describe('NODE_ENV=production', SLOW, () => {
  beforeEach(() => setEnv('NODE_ENV', 'production'))

  test('Db.connect() with nothing chosen throws NO_DATABASE, saying how to choose', async () => {
    const logger = recordingLogger()
    const error = await Db.connect({ logger }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DataLayerError)
    expect(error).toMatchObject({ code: 'NO_DATABASE' })
    const message = (error as Error).message
    for (const way of ['DATABASE_URL', 'url', 'dataDir', 'embedded: true']) expect(message).toContain(way)
    expect(logger.matching(IN_MEMORY)).toEqual([])
  })

  test('an empty DATABASE_URL counts as none', async () => {
    setEnv('DATABASE_URL', '')
    await expect(Db.connect()).rejects.toMatchObject({ code: 'NO_DATABASE' })
  })

  test('`embedded: true` is a choice: in-memory PGlite starts, with no warning', async () => {
    const logger = recordingLogger()
    const db = await Db.connect({ embedded: true, logger })
    try {
      expect(db.backend).toBe('pglite')
      expect(await db.query<{ n: number }>('SELECT 1 AS n')).toEqual([{ n: 1 }])
      expect(logger.matching(IN_MEMORY)).toEqual([])
    } finally {
      await db.close()
    }
  })

  test('`dataDir` is a choice: PGlite on disk starts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'amdb-defaults-'))
    try {
      const db = await Db.connect({ dataDir: join(dir, 'data') })
      expect(db.backend).toBe('pglite')
      await db.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('createTestDb() (automagik-db/testing) is unaffected', async () => {
    const logger = recordingLogger()
    // On PGlite: createTestDb() with no URL at all (TEST_DATABASE_URL may be set by the environment).
    if (backend === 'pglite') setEnv('TEST_DATABASE_URL', undefined)
    const db = backend === 'postgres' ? await createTestDb({ url: serverUrl, logger }) : await createTestDb({ logger })
    try {
      expect(db.backend).toBe(backend)
      expect(await db.agents.count()).toBe(0)
      expect(logger.matching(IN_MEMORY)).toEqual([])
    } finally {
      await db.close()
    }
  })

  test.runIf(backend === 'postgres')('DATABASE_URL (or url) is a choice: the server is used', async () => {
    setEnv('DATABASE_URL', serverUrl)
    const fromEnv = await Db.connect()
    expect(fromEnv.backend).toBe('postgres')
    await fromEnv.close()
    const fromOption = await Db.connect({ url: serverUrl })
    expect(fromOption.backend).toBe('postgres')
    await fromOption.close()
  })
})

describe('elsewhere (NODE_ENV=development, unset)', SLOW, () => {
  test.each([['development'], [undefined]])(
    'NODE_ENV=%s: the in-memory fallback starts and logs exactly one warning',
    async (nodeEnv) => {
      setEnv('NODE_ENV', nodeEnv)
      const logger = recordingLogger()
      const db = await Db.connect({ logger })
      try {
        expect(db.backend).toBe('pglite')
        await db.query('SELECT 1')
        const warnings = logger.matching(IN_MEMORY)
        expect(warnings).toHaveLength(1)
        expect(warnings[0]!.level).toBe('warn')
        expect(warnings[0]!.msg).toContain('embedded: true')
      } finally {
        await db.close()
      }
    },
  )

  test('without a logger the fallback still starts (nothing to warn through)', async () => {
    const db = await Db.connect()
    expect(db.backend).toBe('pglite')
    await db.close()
  })
})
