import { BaseRepository, ValidationError, type QueryContext } from 'automagik-db'
import type { Selectable } from 'kysely'
import type { AppDatabase } from './app-db.js'

/** A user's rating of one session: a row of the app's own `feedback` table. */
export interface Feedback {
  id: number
  sessionId: string
  rating: number
  comment: string | null
  createdAt: Date
}

/** What `update` may change; any other key is a compile error (and a ValidationError at run time). */
export type FeedbackPatch = Partial<Pick<Feedback, 'rating' | 'comment'>>

/**
 * The app's repository for `feedback`: get, getOrThrow, exists, count, update, delete and page
 * come from BaseRepository; `create` and `listBySession` are the app's.
 *
 * @example
 * ```ts
 * const feedback = await db.repository(FeedbackRepository).create({ sessionId, rating: 5 })
 * ```
 */
export class FeedbackRepository extends BaseRepository<Feedback, number, AppDatabase, FeedbackPatch> {
  constructor(executor: QueryContext<AppDatabase>) {
    super(executor, {
      table: 'feedback',
      name: 'feedback',
      columns: ['id', 'session_id', 'rating', 'comment', 'created_at'],
      toEntity: (row: Selectable<AppDatabase['feedback']>): Feedback => ({
        id: row.id,
        sessionId: row.session_id,
        rating: row.rating,
        comment: row.comment,
        createdAt: row.created_at,
      }),
      idKind: 'int',
      pageKey: { column: 'id', kind: 'int', of: (f) => f.id },
      fields: { rating: 'rating', comment: 'comment' },
      json: new Set(),
    })
  }

  /**
   * Records a rating from 1 to 5 (a ValidationError before any SQL otherwise); a session that
   * does not exist is a ForeignKeyError.
   *
   * @example
   * ```ts
   * await feedback.create({ sessionId, rating: 4, comment: 'helpful' })
   * ```
   */
  async create(input: { sessionId: string; rating: number; comment?: string | null }): Promise<Feedback> {
    if (!Number.isInteger(input.rating) || input.rating < 1 || input.rating > 5) {
      throw new ValidationError([{ field: 'rating', messages: ['rating must be an integer from 1 to 5'] }], 'feedback.create')
    }
    return this.insertOne({ session_id: input.sessionId, rating: input.rating, comment: input.comment ?? null })
  }

  /**
   * A session's feedback, oldest first.
   *
   * @example
   * ```ts
   * const ratings = await feedback.listBySession(sessionId)
   * ```
   */
  listBySession(sessionId: string): Promise<Feedback[]> {
    return this.selectWhere('listBySession', [['session_id', sessionId]], [['id', 'asc']], 1000)
  }
}
