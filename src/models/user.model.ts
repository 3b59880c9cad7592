import { Type } from 'class-transformer'
import { IsEmail, IsOptional, MaxLength, ValidateIf } from 'class-validator'
import type { Selectable } from 'kysely'
import type { Users } from '../generated/database.js'
import { IsJsonObject, IsSafeText } from '../validation.js'
import { Entity, type JsonObject } from './entity.js'

/** A user. Emails are unique case-insensitively. */
export class User extends Entity {
  id!: number
  email!: string | null
  phoneNumber!: string | null
  userData!: JsonObject
  @Type(() => Date) createdAt!: Date
  @Type(() => Date) updatedAt!: Date
}

/** The columns every user query reads. */
export const userColumns = ['id', 'email', 'phone_number', 'user_data', 'created_at', 'updated_at'] as const

/** Row → User, by hand. */
export function toUser(row: Selectable<Users>): User {
  const u = new User()
  u.id = row.id
  u.email = row.email
  u.phoneNumber = row.phone_number
  u.userData = row.user_data as JsonObject
  u.createdAt = row.created_at
  u.updatedAt = row.updated_at
  return u
}

/** Input of `users.create`: with an email, creates the user or updates the one with that email. */
export class CreateUserInput {
  @IsOptional() @IsSafeText() @MaxLength(320) @IsEmail() email?: string | null
  @IsOptional() @IsSafeText() @MaxLength(50) phoneNumber?: string | null
  @ValidateIf((_, v) => v !== undefined) @IsJsonObject() userData?: JsonObject
}

/** Input of `users.update`: only the fields given are changed. */
export class UpdateUserInput extends CreateUserInput {}
