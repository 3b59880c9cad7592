import { Type } from 'class-transformer'
import { IsEmail, IsOptional, MaxLength, ValidateIf } from 'class-validator'
import type { Selectable } from 'kysely'
import type { Users } from '../generated/database.js'
import { IsJsonObject, IsSafeText } from '../validation.js'
import { entityFromPlain, entityToPlain, type Entity, type JsonObject } from './entity.js'

/** A user. Emails are unique case-insensitively. */
export class User implements Entity {
  id!: number
  email!: string | null
  phoneNumber!: string | null
  userData!: JsonObject
  @Type(() => Date) createdAt!: Date
  @Type(() => Date) updatedAt!: Date

  /** Builds the entity from a row (with no row: an empty entity, as class-transformer needs). */
  constructor(row?: Selectable<Users>) {
    if (row === undefined) return
    this.id = row.id
    this.email = row.email
    this.phoneNumber = row.phone_number
    this.userData = row.user_data as JsonObject
    this.createdAt = row.created_at
    this.updatedAt = row.updated_at
  }

  /**
   * The seed's `model_dump()`: a plain object; dates stay Date objects.
   *
   * @example
   * ```ts
   * const dict = user.toPlain()
   * ```
   */
  toPlain(): Record<string, unknown> {
    return entityToPlain(this)
  }

  /**
   * The seed's `User(**dict)`: from a plain object, e.g. one that went through JSON.
   *
   * @example
   * ```ts
   * const copy = User.fromPlain(JSON.parse(JSON.stringify(user.toPlain())))
   * ```
   */
  static fromPlain(plain: object): User {
    return entityFromPlain(User, plain)
  }
}

/** The columns every user query reads. */
export const userColumns = ['id', 'email', 'phone_number', 'user_data', 'created_at', 'updated_at'] as const

/** Row → User: one constructor call, no reflection (the hot path of every read). */
export function toUser(row: Selectable<Users>): User {
  return new User(row)
}

/** Input of `users.create`: with an email, creates the user or updates the one with that email. */
export class CreateUserInput {
  @IsOptional() @IsSafeText() @MaxLength(320) @IsEmail() email?: string | null
  @IsOptional() @IsSafeText() @MaxLength(50) phoneNumber?: string | null
  @ValidateIf((_, v) => v !== undefined) @IsJsonObject() userData?: JsonObject
}

/** Input of `users.update`: only the fields given are changed. */
export class UpdateUserInput extends CreateUserInput {}
