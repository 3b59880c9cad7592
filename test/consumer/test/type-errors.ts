// Compiled by `tsc --noEmit` (run.sh), never run. Each statement under a `@ts-expect-error` must
// stay a compile error: the day one of them compiles, tsc fails with "Unused '@ts-expect-error'
// directive". The statements at the end are the same calls written correctly: they must compile,
// so the errors above are the ones named, not a broken `db`.
import type { AppDb } from '../src/app-db.js'
import { FeedbackRepository } from '../src/feedback.repository.js'

export async function badPatches(db: AppDb): Promise<void> {
  // @ts-expect-error `nmae` is not a field of an agent
  await db.agents.update(1, { nmae: 'x' })
  // @ts-expect-error an email is a string
  await db.users.update(1, { email: 42 })
  // @ts-expect-error `ratin` is not a field of the app's feedback patch
  await db.repository(FeedbackRepository).update(1, { ratin: 5 })
  // @ts-expect-error a rating is a number
  await db.repository(FeedbackRepository).update(1, { rating: 'five' })
  // @ts-expect-error `sessionId` is not in FeedbackPatch: feedback does not move between sessions
  await db.repository(FeedbackRepository).update(1, { sessionId: 'b7c1d0a2-0000-4000-8000-000000000000' })
  // @ts-expect-error feedback ids are numbers
  await db.repository(FeedbackRepository).get('1')
  // @ts-expect-error the app's column is `team`
  await db.kysely.updateTable('agents').set({ teem: 'x' }).execute()
  // @ts-expect-error there is no table `feedbacks`
  await db.kysely.selectFrom('feedbacks').selectAll().execute()
  // @ts-expect-error a repository class takes the executor Db gives it, not a number
  db.repository(class NotARepository { n = 0; constructor(n: number) { this.n = n } })
}

export async function goodPatches(db: AppDb): Promise<void> {
  await db.agents.update(1, { name: 'x' })
  await db.users.update(1, { email: 'ada@example.com' })
  await db.repository(FeedbackRepository).update(1, { rating: 5, comment: null })
  await db.repository(FeedbackRepository).get(1)
  await db.kysely.updateTable('agents').set({ team: 'x' }).execute()
  await db.kysely.selectFrom('feedback').selectAll().execute()
  await db.transaction(async (tx) => tx.repository(FeedbackRepository).update(1, { comment: 'ok' }))
}
