import 'reflect-metadata'
import { instanceToPlain, plainToInstance } from 'class-transformer'
import type { JsonObject } from '../generated/database.js'

export type { JsonObject }

/**
 * Base of the entity classes. Entities are built from rows by a hand-written mapper (cheap,
 * no class-transformer per row); class-transformer serves the seed's `model_dump()` and
 * `Model(**dict)`: {@link Entity.toPlain} and {@link Entity.fromPlain} round-trip, dates included.
 */
export abstract class Entity {
  /**
   * A plain object (the seed's `model_dump()`); dates stay Date objects, JSON stays objects.
   *
   * @example
   * ```ts
   * const dict = agent.toPlain()
   * ```
   */
  toPlain(): Record<string, unknown> {
    return instanceToPlain(this) as Record<string, unknown>
  }

  /**
   * Builds an entity from a plain object (the seed's `Model(**dict)`), e.g. one that went
   * through JSON: ISO date strings become Date objects.
   *
   * @example
   * ```ts
   * const agent = Agent.fromPlain(JSON.parse(JSON.stringify(agent.toPlain())))
   * ```
   */
  static fromPlain<T extends Entity>(this: new () => T, plain: object): T {
    return plainToInstance(this, plain)
  }
}
