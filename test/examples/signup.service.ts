/**
 * An example application service, written as a user of automagik-db would write it. It takes the
 * Db in its constructor (no globals), so a test can hand it a Db bound to a rolled-back transaction.
 *
 * In your project the import is:
 *   import { ConflictError, type Db, type Session, type User } from 'automagik-db'
 */
import { ConflictError, type Db, type Session, type User } from '../../src/index.js'

/** The agent that greets new users. */
export const ONBOARDING_AGENT = 'onboarding'

/** Someone already signed up with this email (compared case-insensitively). */
export class EmailTakenError extends Error {
  constructor(readonly email: string) {
    super(`${email} is already signed up`)
    this.name = 'EmailTakenError'
  }
}

/** `referredBy` names no user. */
export class UnknownReferrerError extends Error {
  constructor(readonly email: string) {
    super(`no user ${email} to credit the referral to`)
    this.name = 'UnknownReferrerError'
  }
}

/** What {@link SignupService.signUp} needs. */
export interface SignupInput {
  email: string
  /** Email of the user who referred this one; must exist. */
  referredBy?: string
}

/** A new user and their welcome session. */
export interface Signup {
  user: User
  session: Session
}

/** Signs users up: the user, a welcome session with the onboarding agent, and a greeting. */
export class SignupService {
  constructor(private readonly db: Db) {}

  /**
   * Signs a user up, all or nothing: when any step fails (email taken, unknown referrer), nothing
   * of this sign-up is left in the database.
   *
   * @example
   * ```ts
   * const { user, session } = await new SignupService(db).signUp({ email: 'ada@example.com' })
   * ```
   */
  signUp(input: SignupInput): Promise<Signup> {
    return this.db.transaction(async (tx) => {
      const user = await insertUser(tx, input.email)
      const agent =
        (await tx.agents.getByName(ONBOARDING_AGENT)) ??
        (await tx.agents.create({ name: ONBOARDING_AGENT, type: 'assistant', model: 'gpt-4o-mini' }))
      const session = await tx.sessions.create({ userId: user.id, agentId: agent.id, name: 'Welcome' })
      await tx.messages.create({
        sessionId: session.id,
        agentId: agent.id,
        role: 'assistant',
        textContent: `Welcome aboard, ${input.email}!`,
      })
      if (input.referredBy !== undefined) {
        const referrer = await tx.users.getByEmail(input.referredBy)
        if (referrer === null) throw new UnknownReferrerError(input.referredBy)
        await tx.memories.create({ name: 'referred-by', userId: user.id, content: String(referrer.id), access: 'read' })
      }
      return { user, session }
    })
  }

  /**
   * The text of a user's welcome conversation, oldest message first.
   *
   * @example
   * ```ts
   * await service.welcomeMessages(user.id) // ['Welcome aboard, ada@example.com!']
   * ```
   */
  async welcomeMessages(userId: number): Promise<string[]> {
    const [session] = await this.db.sessions.list({ userId })
    if (session === undefined) return []
    const messages = await this.db.messages.listBySession(session.id)
    return messages.map((m) => m.textContent ?? '')
  }
}

/** A plain INSERT (not the `users.create` upsert): signing up twice must fail, not merge. */
async function insertUser(tx: Db, email: string): Promise<User> {
  try {
    const { id } = await tx.kysely.insertInto('users').values({ email }).returning('id').executeTakeFirstOrThrow()
    return (await tx.users.get(id))!
  } catch (err) {
    if (err instanceof ConflictError) throw new EmailTakenError(email)
    throw err
  }
}
