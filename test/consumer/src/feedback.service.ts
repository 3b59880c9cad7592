import { NotFoundError, type Agent } from 'automagik-db'
import type { AppDb } from './app-db.js'
import { FeedbackRepository, type Feedback } from './feedback.repository.js'

/** One agent's ratings in a team report. */
export interface AgentRating {
  agentId: number
  name: string
  ratings: number
  average: number
}

/**
 * The app's service: it takes the Db it is given (the app's root Db, a transaction's, or a
 * test's rolled-back one) and uses automagik-db's repositories and the app's side by side.
 *
 * @example
 * ```ts
 * const feedback = await new FeedbackService(db).rateSession(sessionId, 5, 'solved it')
 * ```
 */
export class FeedbackService {
  readonly #db: AppDb

  constructor(db: AppDb) {
    this.#db = db
  }

  /**
   * Finishes the session and records its rating in one transaction: when the rating is
   * rejected, the session stays unfinished.
   *
   * @example
   * ```ts
   * await service.rateSession(sessionId, 4)
   * ```
   */
  rateSession(sessionId: string, rating: number, comment: string | null = null): Promise<Feedback> {
    return this.#db.transaction(async (tx) => {
      if (!(await tx.sessions.finish(sessionId))) {
        throw new NotFoundError(`sessions: no row with id ${sessionId}`, { table: 'sessions' })
      }
      return tx.repository(FeedbackRepository).create({ sessionId, rating, comment })
    })
  }

  /**
   * Puts an agent in a team: the app's own column on automagik-db's `agents` table, written
   * through the typed `db.kysely`; the agent comes back through automagik-db's repository.
   *
   * @example
   * ```ts
   * const agent = await service.assignTeam(agentId, 'support')
   * ```
   */
  async assignTeam(agentId: number, team: string | null): Promise<Agent> {
    await this.#db.kysely.updateTable('agents').set({ team }).where('id', '=', agentId).execute()
    return this.#db.agents.getOrThrow(agentId)
  }

  /**
   * The average rating of each agent of a team, by name: the app's table joined with
   * automagik-db's.
   *
   * @example
   * ```ts
   * const report = await service.teamRatings('support')
   * ```
   */
  async teamRatings(team: string): Promise<AgentRating[]> {
    const rows = await this.#db.kysely
      .selectFrom('feedback')
      .innerJoin('sessions', 'sessions.id', 'feedback.session_id')
      .innerJoin('agents', 'agents.id', 'sessions.agent_id')
      .where('agents.team', '=', team)
      .groupBy(['agents.id', 'agents.name'])
      .select((eb) => [
        'agents.id as agentId',
        'agents.name as name',
        eb.fn.countAll<string>().as('ratings'),
        eb.fn.avg<string>('feedback.rating').as('average'),
      ])
      .orderBy('agents.name')
      .execute()
    return rows.map((r) => ({ agentId: r.agentId, name: r.name, ratings: Number(r.ratings), average: Number(r.average) }))
  }
}
