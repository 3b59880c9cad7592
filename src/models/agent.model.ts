import { Type } from 'class-transformer'
import { IsBoolean, IsInt, IsOptional, Max, MaxLength, Min, MinLength, ValidateIf } from 'class-validator'
import type { Selectable } from 'kysely'
import type { Agents } from '../generated/database.js'
import { IsJsonObject, IsSafeText, MAX_INT4 } from '../validation.js'
import { entityFromPlain, entityToPlain, type Entity, type JsonObject } from './entity.js'

/** An agent: a named model configuration that sessions run against. */
export class Agent implements Entity {
  id!: number
  name!: string
  type!: string
  model!: string
  description!: string | null
  version!: string | null
  systemPrompt!: string | null
  config!: JsonObject
  active!: boolean
  /** Incremented atomically by `agents.incrementRunId`. */
  runId!: number
  @Type(() => Date) createdAt!: Date
  @Type(() => Date) updatedAt!: Date

  /** Builds the entity from a row (with no row: an empty entity, as class-transformer needs). */
  constructor(row?: Selectable<Agents>) {
    if (row === undefined) return
    this.id = row.id
    this.name = row.name
    this.type = row.type
    this.model = row.model
    this.description = row.description
    this.version = row.version
    this.systemPrompt = row.system_prompt
    this.config = row.config as JsonObject
    this.active = row.active
    this.runId = row.run_id
    this.createdAt = row.created_at
    this.updatedAt = row.updated_at
  }

  /**
   * The seed's `model_dump()`: a plain object; dates stay Date objects.
   *
   * @example
   * ```ts
   * const dict = agent.toPlain()
   * ```
   */
  toPlain(): Record<string, unknown> {
    return entityToPlain(this)
  }

  /**
   * The seed's `Agent(**dict)`: from a plain object, e.g. one that went through JSON.
   *
   * @example
   * ```ts
   * const copy = Agent.fromPlain(JSON.parse(JSON.stringify(agent.toPlain())))
   * ```
   */
  static fromPlain(plain: object): Agent {
    return entityFromPlain(Agent, plain)
  }
}

/** The columns every agent query reads. */
export const agentColumns = [
  'id', 'name', 'type', 'model', 'description', 'version', 'system_prompt',
  'config', 'active', 'run_id', 'created_at', 'updated_at',
] as const

/** Row → Agent: one constructor call, no reflection (the hot path of every read). */
export function toAgent(row: Selectable<Agents>): Agent {
  return new Agent(row)
}

/** The agent fields that are optional both when creating and when updating. */
class AgentOptionalFields {
  @IsOptional() @IsSafeText() description?: string | null
  @IsOptional() @IsSafeText() @MaxLength(255) version?: string | null
  @IsOptional() @IsSafeText() systemPrompt?: string | null
  @ValidateIf((_, v) => v !== undefined) @IsJsonObject() config?: JsonObject
  @ValidateIf((_, v) => v !== undefined) @IsBoolean() active?: boolean
  @ValidateIf((_, v) => v !== undefined) @IsInt() @Min(0) @Max(MAX_INT4) runId?: number
}

/** Input of `agents.create`: creates the agent, or updates the one with that name. */
export class CreateAgentInput extends AgentOptionalFields {
  @IsSafeText() @MinLength(1) @MaxLength(255) name!: string
  @IsSafeText() @MinLength(1) @MaxLength(255) type!: string
  @IsSafeText() @MinLength(1) @MaxLength(255) model!: string
}

/** Input of `agents.update`: only the fields given are changed. */
export class UpdateAgentInput extends AgentOptionalFields {
  @ValidateIf((_, v) => v !== undefined) @IsSafeText() @MinLength(1) @MaxLength(255) name?: string
  @ValidateIf((_, v) => v !== undefined) @IsSafeText() @MinLength(1) @MaxLength(255) type?: string
  @ValidateIf((_, v) => v !== undefined) @IsSafeText() @MinLength(1) @MaxLength(255) model?: string
}
