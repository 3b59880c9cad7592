/** Workloads 1–5 and 8: one row (or one short list) per call. */
import { sql } from 'kysely'
import { eq, sql as dsql, desc } from 'drizzle-orm'
import { agentColumns } from '../../../src/models/agent.model.js'
import { sessionColumns } from '../../../src/models/session.model.js'
import { userColumns } from '../../../src/models/user.model.js'
import { agents, sessions, users } from '../drizzle-schema.js'
import { named, SQL } from '../sql.js'
import type { BenchContext } from '../types.js'
import { affected, check, pick, UUID_RE, type Impls } from './common.js'

const ph = dsql.placeholder

export type SingleRowId = '1' | '2' | '3' | '4' | '5' | '8'

export function singleRowImpls(ctx: BenchContext): Record<SingleRowId, Impls> {
  const { raw, prepared, kysely, drizzle: d, seed } = ctx

  const agentId = (i: number) => pick(i, seed.agents) + 1
  const agentName = (i: number) => `agent-${pick(i, seed.agents) + 1}`
  const userId = (i: number) => pick(i, seed.users) + 1
  // Workload 3 looks users up in a letter case other than the stored one every other call.
  const email = (i: number) => {
    const u = userId(i)
    return i % 2 === 0 ? `user${u}@example.com` : `USER${u}@Example.COM`
  }
  const upsertInput = (i: number) => ({ name: agentName(i), type: 'simple', model: 'gpt-4', description: `upserted ${i}` })
  const sessionInput = (i: number) => ({ userId: userId(i), agentId: pick(i + 7, seed.agents) + 1, name: `bench ${i}`, platform: 'bench' })

  const dAgentById = d.select().from(agents).where(eq(agents.id, ph('id'))).prepare('drz_agent_by_id')
  const dAgentByName = d.select().from(agents).where(eq(agents.name, ph('name'))).prepare('drz_agent_by_name')
  const dUserByEmail = d
    .select()
    .from(users)
    .where(dsql`lower(${users.email}) = lower(${ph('email')})`)
    .prepare('drz_user_by_email')
  const dAgentUpsert = d
    .insert(agents)
    .values({ name: ph('name'), type: ph('type'), model: ph('model'), description: ph('description') })
    .onConflictDoUpdate({
      target: agents.name,
      set: { type: dsql`excluded.type`, model: dsql`excluded.model`, description: dsql`excluded.description` },
    })
    .returning()
    .prepare('drz_agent_upsert')
  const dSessionInsert = d
    .insert(sessions)
    .values({ userId: ph('userId'), agentId: ph('agentId'), name: ph('name'), platform: ph('platform') })
    .returning()
    .prepare('drz_session_insert')
  const dSessionFinish = d
    .update(sessions)
    .set({ runFinishedAt: dsql`now()` })
    .where(eq(sessions.id, ph('id')))
    .prepare('drz_session_finish')
  const dSessionsOf = d
    .select()
    .from(sessions)
    .where(eq(sessions.userId, ph('userId')))
    .orderBy(desc(sessions.updatedAt), desc(sessions.id))
    .limit(20)
    .prepare('drz_sessions_of')

  const one = <R>(rows: R[], what: string): R => {
    check(rows.length === 1, `${what}: expected 1 row, got ${rows.length}`)
    return rows[0]!
  }

  return {
    '1': {
      pg: async (i) => {
        const id = agentId(i)
        check(one((await raw.query(SQL.agentById, [id])).rows, 'agent').id === id, 'agent id')
      },
      prepared: async (i) => {
        const id = agentId(i)
        check(one((await prepared.query(named('agentById', [id]))).rows, 'agent').id === id, 'agent id')
      },
      kysely: async (i) => {
        const id = agentId(i)
        const row = await kysely.selectFrom('agents').select(agentColumns).where('id', '=', id).executeTakeFirst()
        check(row?.id === id, 'agent id')
      },
      drizzle: async (i) => {
        const id = agentId(i)
        check(one(await dAgentById.execute({ id }), 'agent').id === id, 'agent id')
      },
      amdb: (db) => async (i) => {
        const id = agentId(i)
        check((await db.agents.get(id))?.id === id, 'agent id')
      },
    },
    '2': {
      pg: async (i) => {
        const name = agentName(i)
        check(one((await raw.query(SQL.agentByName, [name])).rows, 'agent').name === name, 'agent name')
      },
      prepared: async (i) => {
        const name = agentName(i)
        check(one((await prepared.query(named('agentByName', [name]))).rows, 'agent').name === name, 'agent name')
      },
      kysely: async (i) => {
        const name = agentName(i)
        const row = await kysely.selectFrom('agents').select(agentColumns).where('name', '=', name).executeTakeFirst()
        check(row?.name === name, 'agent name')
      },
      drizzle: async (i) => {
        const name = agentName(i)
        check(one(await dAgentByName.execute({ name }), 'agent').name === name, 'agent name')
      },
      amdb: (db) => async (i) => {
        const name = agentName(i)
        check((await db.agents.getByName(name))?.name === name, 'agent name')
      },
    },
    '3': {
      pg: async (i) => {
        check(one((await raw.query(SQL.userByEmail, [email(i)])).rows, 'user').id === userId(i), 'user id')
      },
      prepared: async (i) => {
        check(one((await prepared.query(named('userByEmail', [email(i)]))).rows, 'user').id === userId(i), 'user id')
      },
      kysely: async (i) => {
        const row = await kysely
          .selectFrom('users')
          .select(userColumns)
          .where(sql`lower(email)`, '=', sql`lower(${email(i)})`)
          .executeTakeFirst()
        check(row?.id === userId(i), 'user id')
      },
      drizzle: async (i) => {
        check(one(await dUserByEmail.execute({ email: email(i) }), 'user').id === userId(i), 'user id')
      },
      amdb: (db) => async (i) => {
        check((await db.users.getByEmail(email(i)))?.id === userId(i), 'user id')
      },
    },
    '4': {
      pg: async (i) => {
        const a = upsertInput(i)
        const row = one((await raw.query(SQL.agentUpsert, [a.name, a.type, a.model, a.description])).rows, 'agent')
        check(row.id === agentId(i) && row.description === a.description, 'upserted agent')
      },
      prepared: async (i) => {
        const a = upsertInput(i)
        const row = one((await prepared.query(named('agentUpsert', [a.name, a.type, a.model, a.description]))).rows, 'agent')
        check(row.id === agentId(i) && row.description === a.description, 'upserted agent')
      },
      kysely: async (i) => {
        const a = upsertInput(i)
        const row = await kysely
          .insertInto('agents')
          .values(a)
          .onConflict((oc) =>
            oc.column('name').doUpdateSet((eb) => ({
              type: eb.ref('excluded.type'),
              model: eb.ref('excluded.model'),
              description: eb.ref('excluded.description'),
            })),
          )
          .returning(agentColumns)
          .executeTakeFirstOrThrow()
        check(row.id === agentId(i) && row.description === a.description, 'upserted agent')
      },
      drizzle: async (i) => {
        const a = upsertInput(i)
        const row = one(await dAgentUpsert.execute(a), 'agent')
        check(row.id === agentId(i) && row.description === a.description, 'upserted agent')
      },
      amdb: (db) => async (i) => {
        const a = upsertInput(i)
        const agent = await db.agents.create(a)
        check(agent.id === agentId(i) && agent.description === a.description, 'upserted agent')
      },
    },
    '5': {
      pg: async (i) => {
        const s = sessionInput(i)
        const row = one((await raw.query(SQL.sessionInsert, [s.userId, s.agentId, s.name, s.platform])).rows, 'session')
        check(UUID_RE.test(row.id) && row.user_id === s.userId, 'created session')
        check((await raw.query(SQL.sessionFinish, [row.id])).rowCount === 1, 'finished session')
      },
      prepared: async (i) => {
        const s = sessionInput(i)
        const row = one(
          (await prepared.query(named('sessionInsert', [s.userId, s.agentId, s.name, s.platform]))).rows,
          'session',
        )
        check(UUID_RE.test(row.id) && row.user_id === s.userId, 'created session')
        check((await prepared.query(named('sessionFinish', [row.id]))).rowCount === 1, 'finished session')
      },
      kysely: async (i) => {
        const s = sessionInput(i)
        const row = await kysely
          .insertInto('sessions')
          .values({ user_id: s.userId, agent_id: s.agentId, name: s.name, platform: s.platform })
          .returning(sessionColumns)
          .executeTakeFirstOrThrow()
        check(UUID_RE.test(row.id) && row.user_id === s.userId, 'created session')
        const done = await kysely
          .updateTable('sessions')
          .set((eb) => ({ run_finished_at: eb.fn('now') }))
          .where('id', '=', row.id)
          .executeTakeFirst()
        check(done.numUpdatedRows === 1n, 'finished session')
      },
      drizzle: async (i) => {
        const s = sessionInput(i)
        const row = one(await dSessionInsert.execute(s), 'session')
        check(UUID_RE.test(row.id) && row.userId === s.userId, 'created session')
        check(affected(await dSessionFinish.execute({ id: row.id })) === 1, 'finished session')
      },
      amdb: (db) => async (i) => {
        const session = await db.sessions.create(sessionInput(i))
        check(UUID_RE.test(session.id) && session.userId === userId(i), 'created session')
        check(await db.sessions.finish(session.id), 'finished session')
      },
    },
    '8': {
      pg: async (i) => {
        const u = userId(i)
        const rows = (await raw.query(SQL.sessionsOf, [u])).rows
        check(rows.length === 20 && rows.every((r) => r.user_id === u), '20 sessions of the user')
      },
      prepared: async (i) => {
        const u = userId(i)
        const rows = (await prepared.query(named('sessionsOf', [u]))).rows
        check(rows.length === 20 && rows.every((r) => r.user_id === u), '20 sessions of the user')
      },
      kysely: async (i) => {
        const u = userId(i)
        const rows = await kysely
          .selectFrom('sessions')
          .select(sessionColumns)
          .where('user_id', '=', u)
          .orderBy('updated_at', 'desc')
          .orderBy('id', 'desc')
          .limit(20)
          .execute()
        check(rows.length === 20 && rows.every((r) => r.user_id === u), '20 sessions of the user')
      },
      drizzle: async (i) => {
        const u = userId(i)
        const rows = await dSessionsOf.execute({ userId: u })
        check(rows.length === 20 && rows.every((r) => r.userId === u), '20 sessions of the user')
      },
      amdb: (db) => async (i) => {
        const u = userId(i)
        const list = await db.sessions.list({ userId: u, limit: 20 })
        check(list.length === 20 && list.every((s) => s.userId === u), '20 sessions of the user')
      },
    },
  }
}

export const SINGLE_ROW_TITLES: Record<SingleRowId, string> = {
  '1': 'agents.get(id)',
  '2': 'agents.getByName(name)',
  '3': 'users.getByEmail(email), case-insensitive',
  '4': 'agents.create on an existing name (upsert)',
  '5': 'sessions.create + sessions.finish (2 statements)',
  '8': 'sessions.list({ userId, limit: 20 })',
}
