import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely'
import type { Database } from '../generated/database.js'
import { translateError } from '../pg-errors.js'
import { CompiledShapes } from './compiled-shapes.js'
import { ExtensionCatalog, type ExtensionName, type InstalledExtension } from './extensions.js'

/**
 * What a repository runs its queries through: a Kysely instance to build them with, and a way to
 * run a query compiled once per shape. A Db hands its repositories its scope (statements go
 * straight to its connection); a repository built on a bare Kysely gets {@link kyselyContext}.
 */
export interface QueryContext<DB = Database> {
  readonly kysely: Kysely<DB>
  runCompiled<R>(
    shape: string,
    args: readonly unknown[],
    build: (slots: readonly unknown[]) => Compilable<R>,
    /** Whose shape this is (a repository class): shapes of different owners never mix. */
    owner?: object,
  ): Promise<QueryResult<R>>
  /**
   * The quoted schema `extension` is installed in (to qualify its operators and types) and its
   * version, or FeatureUnavailableError when the database does not have it.
   */
  extension(extension: ExtensionName): Promise<InstalledExtension>
  /**
   * Runs a read where this context's reads go: a Db with read replicas sends a root scope's
   * reads to a replica (or to the primary when none is usable or caught up); elsewhere `fn` runs
   * on this context. Optional: without it, reads run here.
   */
  read?<R>(fn: (context: QueryContext<DB>) => Promise<R>): Promise<R>
}

/**
 * Runs the read `fn` where `context` sends its reads (see {@link QueryContext.read}).
 *
 * @example
 * ```ts
 * const { rows } = await readOn(context, (ctx) => ctx.runCompiled('agents.get', [id], build))
 * ```
 */
export function readOn<DB, R>(context: QueryContext<DB>, fn: (context: QueryContext<DB>) => Promise<R>): Promise<R> {
  return context.read === undefined ? fn(context) : context.read(fn)
}

/**
 * A query context over any Kysely instance (e.g. `db.kysely.withSchema('tenant_b')`): its own
 * compiled shapes, so SQL compiled for it is never reused by another instance, and every
 * statement through Kysely's executor (plugins included).
 *
 * @example
 * ```ts
 * const agents = new AgentRepository(kyselyContext(kysely))
 * ```
 */
export function kyselyContext<DB = Database>(kysely: Kysely<DB>): QueryContext<DB> {
  const shapes = new CompiledShapes()
  const catalog = new ExtensionCatalog()
  return {
    kysely,
    extension(extension) {
      return catalog.require(extension, async (sql) => {
        try {
          return (await kysely.executeQuery<any>(CompiledQuery.raw(sql))).rows
        } catch (err) {
          throw translateError(err)
        }
      })
    },
    async runCompiled<R>(shape: string, args: readonly unknown[], build: (slots: readonly unknown[]) => Compilable<R>, owner?: object) {
      const { parameters, compiled } = shapes.bind(shape, args, build, owner)
      try {
        return await kysely.executeQuery<R>({ ...compiled, parameters } as never)
      } catch (err) {
        throw translateError(err)
      }
    },
  }
}
