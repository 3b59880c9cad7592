// Issue 9, section 5: close() with a transaction still open — a startTransaction() handle never
// ended, or a db.transaction() whose callback is stuck awaiting something — rolls it back once
// closeTimeout has passed: never committed, not even by a COMMIT that arrives after the timeout.
// Checked by reopening the same database (the PGlite folder, the server database) afterwards.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Db, DbClosedError, type DbOptions, type Logger } from '../../src/index.js'
import { admin, withDatabase } from '../../src/testing/server-admin.js'
import { backend, serverUrl } from '../support/test-db.js'

/** Where this run's database lives; it outlives close() so that it can be reopened. */
let place: DbOptions
let cleanup: () => Promise<void>
beforeAll(async () => {
  if (backend === 'postgres') {
    const name = `amdb_close_${process.pid}_${randomBytes(4).toString('hex')}`
    await admin(serverUrl, `CREATE DATABASE ${name}`)
    place = { url: withDatabase(serverUrl, name) }
    cleanup = () => admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'amdb-close-'))
    place = { dataDir: join(dir, 'data') }
    cleanup = () => rm(dir, { recursive: true, force: true })
  }
  const setup = await Db.connect({ ...place, migrate: true })
  await setup.agents.create({ name: 'committed-before', type: 'simple', model: 'gpt-4' })
  await setup.close()
}, 180_000)
afterAll(() => cleanup?.())

const agent = (name: string) => ({ name, type: 'simple', model: 'gpt-4' })

/** A logger that calls `onTimeout` when close() reports that closeTimeout has passed. */
function timeoutLogger(onTimeout: () => void): Logger {
  const ignore = () => undefined
  return {
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (_obj, msg) => {
      if (msg?.includes('close timeout passed')) onTimeout()
    },
  }
}

/** The agents of `names` that exist, read on a freshly opened Db. */
async function existing(names: string[]): Promise<string[]> {
  const db = await Db.connect(place)
  try {
    const found: string[] = []
    for (const name of names) if ((await db.agents.getByName(name)) !== null) found.push(name)
    return found
  } finally {
    await db.close()
  }
}

describe('close() with a transaction left open', { timeout: 180_000 }, () => {
  test('a startTransaction() handle never ended: its writes are rolled back; a late commit() fails', async () => {
    const db = await Db.connect({ ...place, closeTimeout: 100 })
    const handle = await db.startTransaction()
    await handle.db.agents.create(agent('handle-never-ended'))
    await db.close()
    await expect(handle.commit()).rejects.toBeInstanceOf(DbClosedError)
    expect(await existing(['committed-before', 'handle-never-ended'])).toEqual(['committed-before'])
  })

  test('a db.transaction() callback stuck past closeTimeout that then returns: its COMMIT is refused', async () => {
    let resume!: () => void
    const stuck = new Promise<void>((resolve) => (resume = resolve))
    const db = await Db.connect({ ...place, closeTimeout: 100, logger: timeoutLogger(() => resume()) })
    let wrote!: () => void
    const written = new Promise<void>((resolve) => (wrote = resolve))
    const outcome = db
      .transaction(async (tx) => {
        await tx.agents.create(agent('stuck-then-returns'))
        wrote()
        await stuck // resumes the moment closeTimeout has passed, while close() is still at work
        return 'returned'
      })
      .catch((e: unknown) => e)
    await written
    await db.close()
    expect(await outcome).toBeInstanceOf(DbClosedError)
    expect(await existing(['stuck-then-returns'])).toEqual([])
  })

  test('a callback that writes more after closeTimeout: the write fails, nothing is committed', async () => {
    let resume!: () => void
    const stuck = new Promise<void>((resolve) => (resume = resolve))
    const db = await Db.connect({ ...place, closeTimeout: 100, logger: timeoutLogger(() => resume()) })
    let wrote!: () => void
    const written = new Promise<void>((resolve) => (wrote = resolve))
    let lateWrite: unknown
    const outcome = db
      .transaction(async (tx) => {
        await tx.agents.create(agent('before-timeout'))
        wrote()
        await stuck
        lateWrite = await tx.agents.create(agent('after-timeout')).catch((e: unknown) => e)
        return 'returned'
      })
      .catch((e: unknown) => e)
    await written
    await db.close()
    expect(await outcome).toBeInstanceOf(DbClosedError)
    expect(lateWrite).toBeInstanceOf(DbClosedError)
    expect(await existing(['before-timeout', 'after-timeout'])).toEqual([])
  })
})
