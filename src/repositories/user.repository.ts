import { sql, type Kysely } from 'kysely'
import type { Database } from '../generated/database.js'
import { CreateUserInput, toUser, UpdateUserInput, User, userColumns } from '../models/user.model.js'
import { assertOptions, assertText, validateInput } from '../validation.js'
import type { QueryContext } from '../execution/query-context.js'
import { BaseRepository, excludedOf, readLimit, type ListOptions } from './base.repository.js'

const USER_FIELDS = { email: 'email', phoneNumber: 'phone_number', userData: 'user_data' } as const

/**
 * Users: create-or-update by email (case-insensitive), lookups by id and email.
 *
 * @example
 * ```ts
 * const user = await db.users.create({ email: 'Ada@example.com', userData: { name: 'Ada' } })
 * ```
 */
export class UserRepository extends BaseRepository<User, number> {
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
   * The user with this email in any letter case, or null.
   *
   * @example
   * ```ts
   * const user = await db.users.getByEmail('ADA@example.com')
   * ```
   */
  async getByEmail(email: string): Promise<User | null> {
    assertText(email, 'email', 'users.getByEmail', 320)
    const { rows } = await this.cached('users.getByEmail', [email], ([email]) =>
      this.db.selectFrom('users').select(userColumns).where(sql`lower(email)`, '=', sql`lower(${email})`),
    )
    return rows[0] === undefined ? null : toUser(rows[0])
  }

  /**
   * Users in id order (oldest first).
   *
   * @example
   * ```ts
   * const users = await db.users.list({ limit: 20 })
   * ```
   */
  async list(options: ListOptions = {}): Promise<User[]> {
    const opts = assertOptions(options, ['limit'], 'users.list')
    return this.selectWhere('list', [], [['id', 'asc']], readLimit(opts.limit, 'users.list'))
  }
}
