/**
 * Issue 9 §6, test databases in a blink: createTestDb starts PGlite from a migrated snapshot
 * cached on disk, and clones a migrated template database on a server. Each is keyed by the
 * migrations it holds (ours plus the app's), written so that concurrent workers are safe, and
 * rebuilt when unusable. Behaviour only: no timings are asserted (see `npm run bench:fixtures`).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Db } from '../../src/index.js'
import { createTestDb } from '../../src/testing/index.js'
import { cacheDirectory, CACHE_DIR_ENV } from '../../src/testing/snapshot-cache.js'
import { templateName } from '../../src/testing/server-template.js'
import { snapshotFile } from '../../src/testing/pglite-snapshot.js'
import { backend, serverUrl } from '../support/test-db.js'

const run = promisify(execFile)
const child = new URL('./support/create-test-db.child.ts', import.meta.url).pathname
const SLOW = 180_000

/** An app migration whose name is unique to this run (so its snapshot or template is new). */
function appMigrations(): Record<string, Migration> {
  return { [`0001-cache-test-${randomBytes(6).toString('hex')}`]: probeTable }
}

const probeTable: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createTable('cache_probe').addColumn('id', 'serial', (c) => c.primaryKey()).addColumn('note', 'text').execute()
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('cache_probe').execute()
  },
}

/** The same migration with another body (another column). */
const probeTableChanged: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createTable('cache_probe').addColumn('id', 'serial', (c) => c.primaryKey()).addColumn('comment', 'text').execute()
  },
}

const columnsOf = async (db: Db, table: string): Promise<string[]> =>
  (await db.query<{ c: string }>('SELECT column_name AS c FROM information_schema.columns WHERE table_name = $1 ORDER BY 1', [table])).map((r) => r.c)

/** Runs the child worker; resolves with its JSON line. */
async function worker(env: Record<string, string>): Promise<{ migrations: number; pending: number; backend: string; key: string }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child], { env: { ...process.env, ...env }, cwd: process.cwd(), timeout: SLOW })
  return JSON.parse(stdout.trim().split('\n').pop()!)
}

describe.runIf(backend === 'pglite')('PGlite: a migrated snapshot on disk', () => {
  let dir: string
  const files = async () => (await readdir(dir)).sort()
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'amdb-cache-test-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  test('the first call writes one snapshot (no temporary file left); the next one starts from it', { timeout: SLOW }, async () => {
    const first = await createTestDb({ embedded: true, cacheDir: dir })
    await first.close()
    const written = await files()
    expect(written).toHaveLength(1)
    expect(written[0]).toMatch(/^pglite-[\w.-]+-\d+-[0-9a-f]{32}\.tar$/)
    const file = join(dir, written[0]!)

    // Put a row into the cached snapshot: a Db that shows it was started from the file.
    const { PGlite } = await import('@electric-sql/pglite')
    const raw = await PGlite.create({ loadDataDir: new Blob([await readFile(file)]) })
    await raw.exec("INSERT INTO agents (name, type, model) VALUES ('from-the-snapshot', 't', 'm'); CHECKPOINT")
    const marked = await raw.dumpDataDir('none')
    await raw.close()
    await writeFile(file, new Uint8Array(await marked.arrayBuffer()))
    const before = await stat(file)

    const second = await createTestDb({ embedded: true, cacheDir: dir })
    try {
      expect((await second.agents.list()).map((a) => a.name)).toEqual(['from-the-snapshot'])
      expect((await second.migrationStatus()).every((m) => m.executedAt instanceof Date)).toBe(true)
      expect(await second.migrate()).toEqual([])
    } finally {
      await second.close()
    }
    expect(await files()).toEqual(written) // reused, not replaced (a rewrite renames a new file over it)
    expect((await stat(file)).ino).toBe(before.ino)
  })

  test("keyed by the app's migrations: another set gets its own snapshot, and the Db knows them", { timeout: SLOW }, async () => {
    const before = await files()
    const app = appMigrations()
    for (let round = 0; round < 2; round++) {
      const db = await createTestDb({ embedded: true, cacheDir: dir, migrations: app })
      try {
        expect(await columnsOf(db, 'cache_probe')).toEqual(['id', 'note'])
        const status = await db.migrationStatus()
        expect(status.filter((m) => m.owner === 'app').map((m) => m.name)).toEqual(Object.keys(app))
        expect(status.every((m) => m.executedAt instanceof Date)).toBe(true)
        expect(await db.migrate()).toEqual([])
        await db.migrateDown() // the app's migration, undone through the Db: it knows it
        expect(await columnsOf(db, 'cache_probe')).toEqual([])
      } finally {
        await db.close()
      }
    }
    const after = await files()
    expect(after).toHaveLength(before.length + 1) // written by the first round, read by the second

    // The same name with another body is another schema: another snapshot.
    const changed = { [Object.keys(app)[0]!]: probeTableChanged }
    const db = await createTestDb({ embedded: true, cacheDir: dir, migrations: changed })
    try {
      expect(await columnsOf(db, 'cache_probe')).toEqual(['comment', 'id'])
    } finally {
      await db.close()
    }
    expect(await files()).toHaveLength(after.length + 1)
  })

  test.each([
    ['garbage', async (file: string) => writeFile(file, 'not a tarball')],
    ['a truncated tarball', async (file: string) => writeFile(file, (await readFile(file)).subarray(0, 200_000))],
  ])('a snapshot that is %s is rebuilt, not fatal', { timeout: SLOW }, async (_, spoil) => {
    const app = appMigrations()
    await (await createTestDb({ embedded: true, cacheDir: dir, migrations: app })).close()
    const mine = snapshotFile(dir, app)
    expect(await files()).toContain(basename(mine))
    await spoil(mine)
    const db = await createTestDb({ embedded: true, cacheDir: dir, migrations: app })
    try {
      expect(await columnsOf(db, 'cache_probe')).toEqual(['id', 'note'])
      expect((await db.migrationStatus()).every((m) => m.executedAt instanceof Date)).toBe(true)
    } finally {
      await db.close()
    }
    // Replaced by a good one, which the next call loads.
    const { PGlite } = await import('@electric-sql/pglite')
    const raw = await PGlite.create({ loadDataDir: new Blob([await readFile(mine)]) })
    expect((await raw.query('SELECT count(*)::int AS n FROM cache_probe')).rows).toEqual([{ n: 0 }])
    await raw.close()
  })

  test('several processes creating the same snapshot at once all get a good database; one file results', { timeout: SLOW }, async () => {
    const shared = await mkdtemp(join(tmpdir(), 'amdb-cache-race-'))
    try {
      const env = { CACHE_DIR: shared, NAME: `0001-race-${randomBytes(6).toString('hex')}`, URL: '' }
      const results = await Promise.all([worker(env), worker(env), worker(env)])
      for (const r of results) expect(r).toMatchObject({ pending: 0, backend: 'pglite' })
      const left = await readdir(shared)
      expect(left).toEqual([basename(results[0]!.key)])
      expect(await worker(env)).toMatchObject({ pending: 0 }) // and it loads
    } finally {
      await rm(shared, { recursive: true, force: true })
    }
  })

  test('writing a snapshot deletes others unused for 7 days and temporary files left by dead writers', { timeout: SLOW }, async () => {
    const old = join(dir, 'pglite-0.0.0-2-00000000000000000000000000000000.tar')
    const recent = join(dir, 'pglite-0.0.0-2-11111111111111111111111111111111.tar')
    const deadWriter = join(dir, 'pglite-0.0.0-2-22222222222222222222222222222222.tar.999.abcd.tmp')
    const notOurs = join(dir, 'notes.txt')
    for (const f of [old, recent, deadWriter, notOurs]) await writeFile(f, 'x')
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000)
    for (const f of [old, deadWriter, notOurs]) await utimes(f, eightDaysAgo, eightDaysAgo)
    await (await createTestDb({ embedded: true, cacheDir: dir, migrations: appMigrations() })).close()
    const left = await files()
    expect(left).not.toContain(basename(old))
    expect(left).not.toContain(basename(deadWriter))
    expect(left).toContain(basename(recent))
    expect(left).toContain(basename(notOurs))
    for (const f of [recent, notOurs]) await rm(f)
  })

  test('cache: false migrates from scratch and writes nothing; an unwritable cache only costs speed', { timeout: SLOW }, async () => {
    const before = await files()
    const plain = await createTestDb({ embedded: true, cacheDir: dir, cache: false, migrations: appMigrations() })
    expect((await plain.migrationStatus()).every((m) => m.executedAt instanceof Date)).toBe(true)
    await plain.close()
    expect(await files()).toEqual(before)

    const blocker = join(dir, 'a-file')
    await writeFile(blocker, '')
    const unwritable = await createTestDb({ embedded: true, cacheDir: join(blocker, 'sub'), migrations: appMigrations() })
    expect(await columnsOf(unwritable, 'cache_probe')).toEqual(['id', 'note'])
    await unwritable.close()
    await rm(blocker)
  })
})

describe('the cache folder', () => {
  test(`${CACHE_DIR_ENV} moves it; by default it is node_modules/.cache/automagik-db of the project`, () => {
    const saved = process.env[CACHE_DIR_ENV]
    try {
      delete process.env[CACHE_DIR_ENV]
      expect(cacheDirectory()).toBe(join(process.cwd(), 'node_modules', '.cache', 'automagik-db'))
      process.env[CACHE_DIR_ENV] = join(tmpdir(), 'elsewhere')
      expect(cacheDirectory()).toBe(join(tmpdir(), 'elsewhere'))
      expect(cacheDirectory('/explicit/wins')).toBe('/explicit/wins')
    } finally {
      if (saved === undefined) delete process.env[CACHE_DIR_ENV]
      else process.env[CACHE_DIR_ENV] = saved
    }
  })
})

describe.runIf(backend === 'postgres')('server: a migrated template database, and spare copies of it', () => {
  /** Templates made here: each is dropped afterwards with its spares. */
  const made: string[] = []
  let admin: Db
  beforeAll(async () => {
    admin = await Db.connect({ url: serverUrl })
  })
  afterAll(async () => {
    for (const template of made) {
      for (const name of await databases(`${template}%`)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
    }
    await admin?.close()
  })
  const databases = async (like: string) =>
    (await admin.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE datname LIKE $1 ORDER BY 1', [like])).map((r) => r.d)
  const sparesOf = async (template: string) => (await databases(`${template}%`)).filter((d) => /_s[0-9a-f]{8}$/.test(d))
  const insertInto = async (database: string, note: string) => {
    await using db = await Db.connect({ url: withDb(database) })
    await db.query('INSERT INTO cache_probe (note) VALUES ($1)', [note])
  }

  test("built once per set of migrations (ours + the app's); the Db knows the app's migrations", { timeout: SLOW }, async () => {
    const app = appMigrations()
    const template = templateName(app)
    made.push(template)
    const db = await createTestDb({ url: serverUrl, migrations: app })
    try {
      expect(await columnsOf(db, 'cache_probe')).toEqual(['id', 'note'])
      const status = await db.migrationStatus()
      expect(status.filter((m) => m.owner === 'app').map((m) => m.name)).toEqual(Object.keys(app))
      expect(status.every((m) => m.executedAt instanceof Date)).toBe(true)
      expect(await db.migrate()).toEqual([])
      await db.migrateDown() // the app's migration, undone through the Db: it knows it
      expect(await columnsOf(db, 'cache_probe')).toEqual([])
    } finally {
      await db.close()
    }
    // The template, and one spare copy for the next caller; no `_build` left behind.
    const left = await databases(`${template}%`)
    expect(left).toEqual([template, ...(await sparesOf(template))])
    expect(await sparesOf(template)).toHaveLength(1)
    expect(templateName(appMigrations())).not.toBe(template)
    expect(templateName({})).toMatch(/^amdb_tpl_[0-9a-f]{16}$/)
  })

  test('the next caller takes the spare (renamed, not copied) and leaves a new one; without spares it copies the template', { timeout: SLOW }, async () => {
    const app = appMigrations()
    const template = templateName(app)
    made.push(template)
    await (await createTestDb({ url: serverUrl, migrations: app })).close()
    const [spare] = await sparesOf(template)
    await insertInto(spare!, 'in-the-spare')
    await insertInto(template, 'in-the-template')

    const second = await createTestDb({ url: serverUrl, migrations: app })
    expect(await second.query('SELECT note FROM cache_probe')).toEqual([{ note: 'in-the-spare' }])
    await second.close()
    const next = await sparesOf(template)
    expect(next).toHaveLength(1)
    expect(next).not.toContain(spare)

    for (const d of next) await admin.query(`DROP DATABASE ${d}`)
    const third = await createTestDb({ url: serverUrl, migrations: app })
    expect(await third.query('SELECT note FROM cache_probe')).toEqual([{ note: 'in-the-template' }])
    await third.close()
  })

  test('concurrent creators (separate processes) build the template once; a dropped one is rebuilt', { timeout: SLOW }, async () => {
    const env = { NAME: `0001-race-${randomBytes(6).toString('hex')}`, URL: serverUrl, CACHE_DIR: '' }
    const results = await Promise.all([worker(env), worker(env), worker(env)])
    const template = results[0]!.key
    made.push(template)
    for (const r of results) expect(r).toMatchObject({ pending: 0, backend: 'postgres', key: template })
    const spares = await sparesOf(template)
    expect(await databases(`${template}%`)).toEqual([template, ...spares].sort())
    expect(spares.length).toBeLessThanOrEqual(3)

    for (const d of await databases(`${template}%`)) await admin.query(`DROP DATABASE ${d}`)
    expect(await worker(env)).toMatchObject({ pending: 0 })
    expect(await databases(template)).toEqual([template])
  })

  test('cache: false migrates a plain new database, and makes no template', { timeout: SLOW }, async () => {
    const app = appMigrations()
    const template = templateName(app)
    made.push(template)
    const db = await createTestDb({ url: serverUrl, migrations: app, cache: false })
    try {
      expect(await columnsOf(db, 'cache_probe')).toEqual(['id', 'note'])
      expect((await db.migrationStatus()).every((m) => m.executedAt instanceof Date)).toBe(true)
    } finally {
      await db.close()
    }
    expect(await databases(`${template}%`)).toEqual([])
  })

  test('a builder killed half-way leaves a `_build` database, which the next builder replaces', { timeout: SLOW }, async () => {
    const app = appMigrations()
    const template = templateName(app)
    made.push(template)
    await admin.query(`CREATE DATABASE ${template}_build`)
    const db = await createTestDb({ url: serverUrl, migrations: app })
    expect(await columnsOf(db, 'cache_probe')).toEqual(['id', 'note'])
    await db.close()
    expect(await databases(`${template}_build`)).toEqual([])
    expect(await databases(template)).toEqual([template])
  })

  test('building a template drops ours built more than 7 days ago with their spares, and orphaned spares; recent ones stay', { timeout: SLOW }, async () => {
    const hex = (n: number) => randomBytes(n).toString('hex')
    const old = `amdb_tpl_${hex(8)}`
    const recent = `amdb_tpl_${hex(8)}`
    const oldSpare = `${old}_s${hex(4)}`
    const recentSpare = `${recent}_s${hex(4)}`
    const orphan = `amdb_tpl_${hex(8)}_s${hex(4)}`
    made.push(old, recent, orphan)
    for (const d of [old, recent, oldSpare, recentSpare, orphan]) await admin.query(`CREATE DATABASE ${d}`)
    await admin.query(`COMMENT ON DATABASE ${old} IS 'automagik-db test template, built 2020-01-01T00:00:00.000Z'`)
    await admin.query(`COMMENT ON DATABASE ${recent} IS 'automagik-db test template, built ${new Date().toISOString()}'`)
    const app = appMigrations()
    made.push(templateName(app))
    await (await createTestDb({ url: serverUrl, migrations: app })).close()
    for (const gone of [old, oldSpare, orphan]) expect(await databases(gone)).toEqual([])
    for (const kept of [recent, recentSpare]) expect(await databases(kept)).toEqual([kept])
  })
})

function withDb(name: string): string {
  const u = new URL(serverUrl)
  u.pathname = `/${name}`
  return u.toString()
}
