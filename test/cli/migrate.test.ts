import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Db } from '../../src/index.js'
import { admin, withDatabase } from '../../src/testing/server-admin.js'
import { backend, serverUrl } from '../support/test-db.js'
import { cli, SLOW, statusRows, tempDir, writeAppMigrations, writeFailingMigration } from './support.js'

// Issue 9 §2: `automagik-db migrate latest|down|status` on this run's backend — a PGlite folder
// (--data-dir) on `npm test`, a server database (--url, and DATABASE_URL) on `npm run test:pg` —
// with an app's migrations folder. Exit 0 on success, 1 when a migration fails.

interface Target {
  /** The flags that name the database. */
  args: string[]
  /** A Db on the same database, for checking what the CLI did. */
  open(): Promise<Db>
  remove(): Promise<void>
}

const removals: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const remove of removals) await remove()
})

/** A new empty database: a fresh folder, or a fresh database on the server (dropped after the file). */
async function freshTarget(): Promise<Target & { url?: string }> {
  if (backend === 'postgres') {
    const name = `amdb_cli_${process.pid}_${removals.length}`
    await admin(serverUrl, `CREATE DATABASE ${name}`)
    const url = withDatabase(serverUrl, name)
    const remove = () => admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    removals.push(remove)
    return { args: ['--url', url], url, open: () => Db.connect({ url }), remove }
  }
  const dir = await tempDir('data')
  removals.push(dir.remove)
  return { args: ['--data-dir', dir.path], open: () => Db.connect({ dataDir: dir.path, embedded: true }), remove: dir.remove }
}

describe(`automagik-db migrate on ${backend}`, { timeout: SLOW }, () => {
  let migrations: string

  beforeAll(async () => {
    const dir = await tempDir('migrations')
    removals.push(dir.remove)
    migrations = dir.path
    await writeAppMigrations(migrations)
  })

  test('status, latest, status, down: ours first, then the app’s, each marked by owner', async () => {
    const target = await freshTarget()
    const run = (action: string) => cli(['migrate', action, ...target.args, '--migrations', migrations])

    const before = await run('status')
    if (backend === 'postgres') {
      expect(before.code, before.stderr).toBe(0)
      expect(before.stdout).toMatch(/^MIGRATION\s+OWNER\s+APPLIED AT$/m)
      expect(statusRows(before.stdout)).toEqual([
        ['0001-initial-schema', 'automagik-db', 'pending'],
        ['0002-session-message-order', 'automagik-db', 'pending'],
        ['0003-recall', 'automagik-db', 'pending'],
        ['0004-retention', 'automagik-db', 'pending'],
        ['0001-feedback', 'app', 'pending'],
        ['0002-feedback-comment', 'app', 'pending'],
      ])
      expect(before.stdout).toContain('0 migrations applied, 6 pending.')
    } else {
      // An empty folder holds no database: status says so and creates none.
      expect(before.code).toBe(2)
      expect(before.stderr).toMatch(/--data-dir: .* holds no embedded database/)
      expect(await readdir(target.args[1]!)).toEqual([])
    }

    const latest = await run('latest')
    expect(latest.code, latest.stderr).toBe(0)
    expect(latest.stdout.split('\n').filter((l) => l.startsWith('applied'))).toEqual([
      'applied  0001-initial-schema',
      'applied  0002-session-message-order',
      'applied  0003-recall',
      'applied  0004-retention',
      'applied  0001-feedback',
      'applied  0002-feedback-comment',
    ])
    expect(latest.stdout).toContain('6 migrations applied.')

    const again = await run('latest')
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('Nothing to apply')

    const after = await run('status')
    expect(after.code, after.stderr).toBe(0)
    const rows = statusRows(after.stdout)
    expect(rows.map(([name, owner]) => [name, owner])).toEqual([
      ['0001-initial-schema', 'automagik-db'],
      ['0002-session-message-order', 'automagik-db'],
      ['0003-recall', 'automagik-db'],
      ['0004-retention', 'automagik-db'],
      ['0001-feedback', 'app'],
      ['0002-feedback-comment', 'app'],
    ])
    for (const [, , at] of rows) expect(Number.isNaN(Date.parse(at!)), at).toBe(false)

    // The app's tables really exist, next to ours.
    {
      const db = await target.open()
      try {
        const session = await db.sessions.create({})
        await db.kysely
          .insertInto('feedback' as never)
          .values({ session_id: session.id, rating: 5, comment: 'great' } as never)
          .execute()
      } finally {
        await db.close()
      }
    }

    const down = await run('down')
    expect(down.code, down.stderr).toBe(0)
    expect(down.stdout.trim()).toBe('reverted  0002-feedback-comment')

    const reverted = await run('status')
    expect(statusRows(reverted.stdout).map(([name, , at]) => [name, at === 'pending'])).toEqual([
      ['0001-initial-schema', false],
      ['0002-session-message-order', false],
      ['0003-recall', false],
      ['0004-retention', false],
      ['0001-feedback', false],
      ['0002-feedback-comment', true],
    ])
  })

  // Kysely runs one migrator's pending migrations in one transaction on PostgreSQL: the app's
  // batch is all or nothing, while ours (an earlier, separate batch) stay applied.
  test('a migration that fails: exit 1, the error names it, the app’s batch is rolled back, ours stay', async () => {
    const target = await freshTarget()
    const dir = await tempDir('broken')
    removals.push(dir.remove)
    await writeAppMigrations(dir.path)
    await writeFailingMigration(dir.path)

    const r = await cli(['migrate', 'latest', ...target.args, '--migrations', dir.path])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/0003-broken/)
    expect(r.stderr).toMatch(/MigrationError/)

    const status = await cli(['migrate', 'status', ...target.args, '--migrations', dir.path])
    expect(status.code, status.stderr).toBe(0)
    expect(statusRows(status.stdout).map(([name, , at]) => [name, at === 'pending'])).toEqual([
      ['0001-initial-schema', false],
      ['0002-session-message-order', false],
      ['0003-recall', false],
      ['0004-retention', false],
      ['0001-feedback', true],
      ['0002-feedback-comment', true],
      ['0003-broken', true],
    ])
  })

  test.runIf(backend === 'postgres')('DATABASE_URL is used when neither --url nor --data-dir is given', async () => {
    const target = await freshTarget()
    const r = await cli(['migrate', 'latest', '--migrations', migrations], { env: { DATABASE_URL: target.url! } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('applied  0001-feedback')
    // --url wins over DATABASE_URL
    const other = await freshTarget()
    const status = await cli(['migrate', 'status', ...other.args], { env: { DATABASE_URL: target.url! } })
    expect(statusRows(status.stdout).every(([, , at]) => at === 'pending')).toBe(true)
  })

  test('--data-dir must be an embedded database for status and down, and empty or new for latest', async () => {
    const dir = await tempDir('data')
    removals.push(dir.remove)
    const typo = join(dir.path, 'dta')
    for (const action of ['status', 'down']) {
      const r = await cli(['migrate', action, '--data-dir', typo])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/--data-dir: .*dta holds no embedded database/)
    }
    await writeFile(join(dir.path, 'notes.txt'), 'mine\n')
    const r = await cli(['migrate', 'latest', '--data-dir', dir.path])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--data-dir: .* is not empty and holds no embedded database/)
    expect(await readdir(dir.path)).toEqual(['notes.txt'])
  })

  test('a --data-dir folder is used even when DATABASE_URL is set', async () => {
    const dir = await tempDir('data')
    removals.push(dir.remove)
    const r = await cli(['migrate', 'latest', '--data-dir', dir.path], {
      env: { DATABASE_URL: 'postgres://u@127.0.0.1:1/unreachable' },
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('applied  0001-initial-schema')
  })
})
