import { sql, type Kysely } from 'kysely'
import type { Database } from '../generated/database.js'
import { CreateUserInput, toUser, UpdateUserInput, User, userColumns } from '../models/user.model.js'
import { assertOptions, assertText, validateInput } from '../validation.js'
import type { QueryContext } from '../execution/query-context.js'
import { ConflictError } from '../errors.js'
import { asListPage, BaseRepository, excludedOf, readLimit, type ListOptions, type ListPage } from './base.repository.js'
import { cursorScope, encodeCursor, intKey, readCursor } from './cursor.js'
import { MAX_INT4 } from '../validation.js'

const USER_FIELDS = { email: 'email', phoneNumber: 'phone_number', userData: 'user_data' } as const

/**
 * Users: create-or-update by email (case-insensitive), lookups by id and email.
 *
 * @example
 * ```ts
 * const user = await db.users.create({ email: 'Ada@example.com', userData: { name: 'Ada' } })
 * ```
 */
export class UserRepository extends BaseRepository<User, number, Database, UpdateUserInput> {
  constructor(executor: Kysely<Database> | QueryContext) {
    super(executor, {
      table: 'users',
      name: 'users',
      columns: userColumns,
      toEntity: toUser,
      idKind: 'int',
      pageKey: { column: 'id', kind: 'int', of: (u) => u.id },
      fields: USER_FIELDS,
      json: new Set(['user_data']),
      updateInput: UpdateUserInput,
    })
  }

  /**
   * Creates a user. When an email is given and a user with that email exists (in any letter
   * case), that user is updated instead, atomically; only the fields given are overwritten and
   * the stored email keeps its original spelling.
   *
   * @example
   * ```ts
   * const a = await db.users.create({ email: 'ada@example.com' })
   * const b = await db.users.create({ email: 'ADA@example.com', phoneNumber: '555' }) // b.id === a.id
   * ```
   */
  async create(input: CreateUserInput): Promise<User> {
    const valid = validateInput(CreateUserInput, input, 'users.create')
    const row = this.toRow(valid)
    if (row.email == null) return this.insertOne(row)
    const updates = Object.keys(row).filter((c) => c !== 'email')
    // With nothing else to change, `email = users.email` still lets RETURNING give the row.
    const set = updates.length ? excludedOf(updates) : { email: sql.ref('users.email') }
    return this.insertOne(row, 'upsert', (q) => q.onConflict((oc) => oc.expression(sql`lower(email)`).doUpdateSet(set)))
  }

  /**
   * Creates a user, never touching an existing one: when a user with this email exists (in any
   * letter case) it throws ConflictError (code `23505`, constraint `users_email_lower_key`) and
   * writes nothing. For sign-up flows: of concurrent sign-ups with one email, exactly one wins.
   * The conflict is detected without a failed statement, so a transaction you are in carries on.
   * A user without an email is always created.
   *
   * @example
   * ```ts
   * try {
   *   const user = await db.users.insert({ email: 'ada@example.com', userData: { plan: 'pro' } })
   * } catch (err) {
   *   if (!(err instanceof ConflictError)) throw err // else: the email is taken
   * }
   * ```
   */
  async insert(input: CreateUserInput): Promise<User> {
    const valid = validateInput(CreateUserInput, input, 'users.insert')
    const row = this.toRow(valid)
    if (row.email == null) return this.insertOne(row)
    const set = Object.keys(row)
    const { rows } = await this.cached(`users.insertNew:${set}`, Object.values(row), (v) =>
      this.db
        .insertInto('users')
        .values(Object.fromEntries(set.map((c, i) => [c, v[i]])) as never)
        .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
        .returning(userColumns),
    )
    if (rows[0] === undefined) {
      throw new ConflictError('users.insert: a user with this email (in any letter case) already exists', {
        code: '23505',
        constraint: 'users_email_lower_key',
        table: 'users',
      })
    }
    return toUser(rows[0])
  }

  /**
   * The user with this email in any letter case, or null.
   *
   * @example
   * ```ts
   * const user = await db.users.getByEmail('ADA@example.com')
   * ```
   */
  async getByEmail(email: string): Promise<User | null> {
    assertText(email, 'email', 'users.getByEmail', 320)
    const { rows } = await this.cachedRead('users.getByEmail', [email], ([email]) =>
      this.db.selectFrom('users').select(userColumns).where(sql`lower(email)`, '=', sql`lower(${email})`),
    )
    return rows[0] === undefined ? null : toUser(rows[0])
  }

  /**
   * Users in id order (oldest first), a page at a time: the array carries `nextCursor`, to pass
   * as `cursor` for the next page (null on the last one).
   *
   * @example
   * ```ts
   * const first = await db.users.list({ limit: 20 })
   * const second = first.nextCursor ? await db.users.list({ limit: 20, cursor: first.nextCursor }) : []
   * ```
   */
  async list(options: ListOptions = {}): Promise<ListPage<User>> {
    const context = 'users.list'
    const opts = assertOptions(options, ['limit', 'cursor'], context)
    const limit = readLimit(opts.limit, context)
    const scope = cursorScope(context)
    const after = readCursor(opts.cursor, scope, context, ([id, ...rest]) => (rest.length ? undefined : [intKey(id, context, MAX_INT4)]))
    const rows = await this.selectRows('list', [], [['id', 'asc']], limit + 1, { after })
    return asListPage(this.toPage(rows, limit, (_, u: User) => encodeCursor(scope, [u.id])))
  }
}
