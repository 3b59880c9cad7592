import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { sql, type ColumnType, type Generated, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  BaseRepository,
  MigrationError,
  NotFoundError,
  ValidationError,
  type Database,
  type Db,
  type QueryContext,
} from '../../src/index.js'
import { createMigrator } from '../../src/migrator.js'
import { withRollback } from '../../src/testing/index.js'
import { openTestDb } from '../support/test-db.js'

/** The app's tables, as its codegen would write them. */
interface AppTables {
  feedback: {
    id: Generated<number>
    session_id: string
    rating: number
    comment: string | null
    created_at: ColumnType<Date, Date | string | undefined, Date | string>
  }
}
type AppDatabase = Database & AppTables

const feedbackMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('feedback')
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .addColumn('session_id', 'uuid', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
      .addColumn('rating', 'integer', (c) => c.notNull().check(sql`rating BETWEEN 1 AND 5`))
      .addColumn('comment', 'text')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute()
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('feedback').execute()
  },
}

/** An app migration that adds a nullable column to one of our tables. */
const agentTeamMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('agents').addColumn('team', 'text').execute()
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('agents').dropColumn('team').execute()
  },
}

const APP = { '0001-feedback': feedbackMigration, '0002-agent-team': agentTeamMigration }

interface Feedback {
  id: number
  sessionId: string
  rating: number
  comment: string | null
  createdAt: Date
}

/** A complete app repository on BaseRepository: a table spec and one method of its own. */
class FeedbackRepository extends BaseRepository<Feedback, number, AppDatabase, Partial<Pick<Feedback, 'rating' | 'comment'>>> {
  constructor(executor: QueryContext<AppDatabase>) {
    super(executor, {
      table: 'feedback',
      name: 'feedback',
      columns: ['id', 'session_id', 'rating', 'comment', 'created_at'],
      toEntity: (r) => ({ id: r.id, sessionId: r.session_id, rating: r.rating, comment: r.comment, createdAt: r.created_at }),
      idKind: 'int',
      pageKey: { column: 'id', kind: 'int', of: (f) => f.id },
      fields: { rating: 'rating', comment: 'comment' },
      json: new Set(),
    })
  }

  async add(sessionId: string, rating: number, comment: string | null = null): Promise<Feedback> {
    return this.insertOne({ session_id: sessionId, rating, comment })
  }
}

let db: Db<AppTables>
beforeAll(async () => {
  db = (await openTestDb({ migrations: APP })) as unknown as Db<AppTables>
})
afterAll(() => db?.close())

async function aSession(tx: Db<AppTables>): Promise<string> {
  const user = await tx.users.create({})
  const agent = await tx.agents.create({ name: `a-${Math.random()}`, type: 't', model: 'm' })
  return (await tx.sessions.create({ userId: user.id, agentId: agent.id })).id
}

describe('app migrations', () => {
  test("migrate() ran ours, then the app's; migrationStatus() lists both, marked by owner", async () => {
    const status = await db.migrationStatus()
    expect(status.map((m) => [m.owner, m.name])).toEqual([
      ['automagik-db', '0001-initial-schema'],
      ['automagik-db', '0002-session-message-order'],
      ['automagik-db', '0003-recall'],
      ['automagik-db', '0004-retention'],
      ['app', '0001-feedback'],
      ['app', '0002-agent-team'],
    ])
    for (const m of status) expect(m.executedAt).toBeInstanceOf(Date)
    expect(await db.migrate()).toEqual([])
  })

  test('our repositories keep working with a column an app migration added to agents', async () => {
    await withRollback(db, async (tx) => {
      const agent = await tx.agents.create({ name: 'with-team', type: 't', model: 'm' })
      await tx.query("UPDATE agents SET team = 'blue' WHERE id = $1", [agent.id])
      expect(await tx.agents.getByName('with-team')).toMatchObject({ id: agent.id, name: 'with-team' })
      expect(await tx.agents.update(agent.id, { description: 'd' })).toMatchObject({ description: 'd' })
      const [row] = await tx.kysely.selectFrom('feedback').select((eb) => eb.fn.countAll<string>().as('n')).execute()
      expect(Number(row?.n)).toBe(0)
    })
  })
})

describe('db.repository()', () => {
  test('a BaseRepository subclass gets get, getOrThrow, exists, count, update, delete and page', async () => {
    await withRollback(db, async (tx) => {
      const feedback = tx.repository(FeedbackRepository)
      const sessionId = await aSession(tx)
      const a = await feedback.add(sessionId, 5, 'great')
      const b = await feedback.add(sessionId, 2)
      expect(a).toMatchObject({ sessionId, rating: 5, comment: 'great' })
      expect(a.createdAt).toBeInstanceOf(Date)
      expect(await feedback.get(a.id)).toEqual(a)
      expect(await feedback.exists(b.id)).toBe(true)
      expect(await feedback.count()).toBe(2)
      expect(await feedback.update(b.id, { comment: 'meh' })).toMatchObject({ id: b.id, rating: 2, comment: 'meh' })
      const first = await feedback.page({ limit: 1 })
      expect(first.items.map((f) => f.id)).toEqual([a.id])
      const second = await feedback.page({ limit: 1, cursor: first.nextCursor })
      expect(second.items.map((f) => f.id)).toEqual([b.id])
      expect(await feedback.delete(a.id)).toBe(true)
      await expect(feedback.getOrThrow(a.id)).rejects.toBeInstanceOf(NotFoundError)
    })
  })

  test('a patch key that is not a field is a ValidationError naming it, before any SQL', async () => {
    await withRollback(db, async (tx) => {
      const feedback = tx.repository(FeedbackRepository)
      const f = await feedback.add(await aSession(tx), 3)
      const err = await feedback.update(f.id, { session_id: 'x' } as never).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).fields).toEqual(['session_id'])
      expect(await feedback.get(f.id)).toEqual(f)
    })
  })

  test('is made once per Db, and a transaction gets its own, writing inside the transaction', async () => {
    expect(db.repository(FeedbackRepository)).toBe(db.repository(FeedbackRepository))
    const before = await db.repository(FeedbackRepository).count()
    await db
      .transaction(async (tx) => {
        expect(tx.repository(FeedbackRepository)).not.toBe(db.repository(FeedbackRepository))
        await tx.repository(FeedbackRepository).add(await aSession(tx), 4)
        expect(await tx.repository(FeedbackRepository).count()).toBe(before + 1)
        throw new Error('roll back')
      })
      .catch(() => undefined)
    expect(await db.repository(FeedbackRepository).count()).toBe(before)
  })

  test('any class whose constructor takes the executor works, and db.kysely knows the app tables', async () => {
    class Ratings {
      constructor(private readonly executor: QueryContext<AppDatabase>) {}
      average(sessionId: string) {
        return this.executor.kysely
          .selectFrom('feedback')
          .select((eb) => eb.fn.avg<string>('rating').as('avg'))
          .where('session_id', '=', sessionId)
          .executeTakeFirstOrThrow()
      }
    }
    await withRollback(db, async (tx) => {
      const sessionId = await aSession(tx)
      await tx.repository(FeedbackRepository).add(sessionId, 4)
      await tx.kysely.insertInto('feedback').values({ session_id: sessionId, rating: 2 }).execute()
      expect(Number((await tx.repository(Ratings).average(sessionId)).avg)).toBe(3)
    })
  })
})

describe('app migrations beside ours over time', () => {
  test('a later automagik-db migration is applied without touching the app, and migrateDown() undoes the latest, whoever owns it', async () => {
    // A database of its own: it is migrated up and down.
    const own = await openTestDb({ migrations: APP })
    try {
      // Latest first: the app's two, then our 0004, 0003 and 0002.
      expect(await own.migrateDown()).toEqual(['0002-agent-team'])
      expect(await own.migrateDown()).toEqual(['0001-feedback'])
      expect(await own.migrateDown()).toEqual(['0004-retention'])
      expect(await own.migrateDown()).toEqual(['0003-recall'])
      expect(await own.migrateDown()).toEqual(['0002-session-message-order'])
      // As if the app was installed on a release that had only 0001: its migrations run after it.
      await applyAppMigrationsOnly(own)
      // Upgrading automagik-db brings 0002 to 0004: migrate() applies them and nothing of the app's.
      expect(await own.migrate()).toEqual(['0002-session-message-order', '0003-recall', '0004-retention'])
      expect((await own.migrationStatus()).every((m) => m.executedAt !== null)).toBe(true)
      expect(await own.migrateDown()).toEqual(['0004-retention'])
      expect(await own.migrateDown()).toEqual(['0003-recall'])
      expect(await own.migrateDown()).toEqual(['0002-session-message-order'])
      expect(await own.migrateDown()).toEqual(['0002-agent-team'])
      expect(await own.migrateDown()).toEqual(['0001-feedback'])
      expect(await own.migrateDown()).toEqual(['0001-initial-schema'])
      expect(await own.migrateDown()).toEqual([])
      expect(await own.migrate()).toEqual(['0001-initial-schema', '0002-session-message-order', '0003-recall', '0004-retention', '0001-feedback', '0002-agent-team'])
    } finally {
      await own.close()
    }
  })

  test("without the app's migrations, status still lists the app's applied ones and migrateDown() refuses to go under them", async () => {
    const own = await openTestDb()
    try {
      await applyAppMigrationsOnly(own)
      expect((await own.migrationStatus()).map((m) => `${m.owner}:${m.name}:${m.executedAt !== null}`)).toEqual([
        'automagik-db:0001-initial-schema:true',
        'automagik-db:0002-session-message-order:true',
        'automagik-db:0003-recall:true',
        'automagik-db:0004-retention:true',
        'app:0001-feedback:true',
        'app:0002-agent-team:true',
      ])
      const err = await own.migrateDown().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MigrationError)
      expect((err as Error).message).toMatch(/0002-agent-team.*pass the app's migrations/)
      expect((await own.migrationStatus()).every((m) => m.executedAt !== null)).toBe(true)
    } finally {
      await own.close()
    }
  })
})

/** Runs only the app's migrations, through the migrator itself (as an older release would have). */
async function applyAppMigrationsOnly(own: Db<any>): Promise<void> {
  await own.withConnection(async (conn) => {
    const { error } = await createMigrator(conn.kysely, undefined, APP).migrateToLatest()
    expect(error).toBeUndefined()
  })
}

describe('migrations from a folder', () => {
  let folder: string
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'amdb-migrations-'))
    await writeFile(
      join(folder, '0001-tools.mjs'),
      `export async function up(db) { await db.schema.createTable('tools').addColumn('id', 'serial', (c) => c.primaryKey()).addColumn('name', 'text').execute() }
export async function down(db) { await db.schema.dropTable('tools').execute() }\n`,
    )
    await writeFile(join(folder, '0002-tool-owner.js'), `export default { up: async (db) => { await db.schema.alterTable('tools').addColumn('owner', 'text').execute() } }\n`)
    await writeFile(join(folder, 'helpers.d.ts'), 'export {}\n')
    await writeFile(join(folder, '_shared.mjs'), 'export const x = 1\n')
    await writeFile(join(folder, 'package.json'), '{"type":"module"}\n')
  })
  afterAll(() => rm(folder, { recursive: true, force: true }))

  test('each module is a migration named by its file, in file-name order', async () => {
    const own = await openTestDb({ migrations: folder })
    try {
      const app = (await own.migrationStatus()).filter((m) => m.owner === 'app')
      expect(app.map((m) => m.name)).toEqual(['0001-tools', '0002-tool-owner'])
      expect(app.every((m) => m.executedAt !== null)).toBe(true)
      await own.query("INSERT INTO tools (name, owner) VALUES ('search', 'ada')")
    } finally {
      await own.close()
    }
  })

  test('a module without up() is a MigrationError naming the file, before anything is opened', async () => {
    await writeFile(join(folder, '0003-broken.mjs'), 'export const nothing = 1\n')
    try {
      await expect(openTestDb({ migrations: folder })).rejects.toThrow(/0003-broken\.mjs exports no up\(\)/)
    } finally {
      await rm(join(folder, '0003-broken.mjs'))
    }
  })

  test('a file: URL of the folder works like its path (import.meta.url-relative folders)', async () => {
    const own = await openTestDb({ migrations: pathToFileURL(`${folder}/`) })
    try {
      expect((await own.migrationStatus()).filter((m) => m.owner === 'app').map((m) => m.name)).toEqual(['0001-tools', '0002-tool-owner'])
    } finally {
      await own.close()
    }
  })

  test('an array, or url with dataDir, is a ValidationError naming the option, before anything opens', async () => {
    await expect(openTestDb({ migrations: [feedbackMigration] as never })).rejects.toMatchObject({ fields: ['migrations'] })
    const { Db } = await import('../../src/index.js')
    await expect(Db.connect({ url: 'postgres://u@127.0.0.1:1/x', dataDir: folder })).rejects.toMatchObject({ fields: ['url'] })
    await expect(Db.connect({ url: 'postgres://u@127.0.0.1:1/x', embedded: true })).rejects.toBeInstanceOf(ValidationError)
  })

  test('a folder that does not exist is a MigrationError', async () => {
    await expect(openTestDb({ migrations: join(folder, 'nope') })).rejects.toBeInstanceOf(MigrationError)
  })
})

describe('regressions', () => {
  /** An app's own view of our `agents` table, with the column its migration added. */
  interface TeamAgent {
    id: number
    name: string
    team: string | null
  }
  class TeamAgents extends BaseRepository<TeamAgent, number, AppDatabase & { agents: { team: string | null } }> {
    constructor(executor: QueryContext<AppDatabase & { agents: { team: string | null } }>) {
      super(executor, {
        table: 'agents',
        name: 'team-agents',
        columns: ['id', 'name', 'team'],
        toEntity: (r) => ({ id: r.id, name: r.name, team: r.team }),
        idKind: 'int',
        pageKey: { column: 'id', kind: 'int', of: (a) => a.id },
        fields: { team: 'team' },
        json: new Set(),
      })
    }
  }

  test('compiled queries of two repositories over one table never mix (an app repository over agents)', async () => {
    await withRollback(db, async (tx) => {
      const agent = await tx.agents.create({ name: 'mixed', type: 't', model: 'm' })
      const team = tx.repository(TeamAgents)
      expect(await team.update(agent.id, { team: 'blue' })).toEqual({ id: agent.id, name: 'mixed', team: 'blue' })
      // Ours first, then the app's: each gets the columns of its own spec.
      expect(await tx.agents.get(agent.id)).toMatchObject({ id: agent.id, type: 't', model: 'm' })
      expect(await team.get(agent.id)).toEqual({ id: agent.id, name: 'mixed', team: 'blue' })
      // The app's page first, then ours.
      expect((await team.page({ limit: 1000 })).items).toContainEqual({ id: agent.id, name: 'mixed', team: 'blue' })
      const ours = (await tx.agents.page({ limit: 1000 })).items.find((a) => a.id === agent.id)
      expect(ours).toMatchObject({ type: 't', model: 'm' })
    })
  })
})
