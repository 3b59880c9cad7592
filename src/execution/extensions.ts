import { FeatureUnavailableError } from '../errors.js'

/** Optional capabilities of the database a Db is connected to. */
export interface Features {
  /** pgvector is installed: vector and hybrid search work (PGlite always; a server when it has it). */
  readonly vector: boolean
  /** pg_trgm is installed (by migration 0003): fuzzy search works. */
  readonly trigram: boolean
}

/** The extensions queries use. */
export type ExtensionName = 'vector' | 'pg_trgm'

/**
 * An installed extension: the schema it is in, quoted, ready to qualify its operators and types
 * (`OPERATOR("public".<=>)`: a tenant schema's search_path does not include it), and its version.
 */
export interface InstalledExtension {
  readonly schema: string
  readonly version: string
}

type Installed = Partial<Record<ExtensionName, InstalledExtension>>

/** The statement {@link ExtensionCatalog} reads the installed extensions with. */
export const EXTENSIONS_SQL =
  "SELECT e.extname AS name, quote_ident(n.nspname) AS schema, e.extversion AS version FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname IN ('vector', 'pg_trgm')"

type ReadRows = (sql: string) => Promise<readonly { name: string; schema: string; version: string }[]>

/**
 * What extensions one database has, read once and re-read when a query needs one that was
 * missing (migrations applied later, by this process or another, install them).
 *
 * @example
 * ```ts
 * const catalog = new ExtensionCatalog()
 * await catalog.refresh(async (sql) => (await pool.query(sql)).rows)
 * catalog.features.vector // true on PGlite
 * ```
 */
export class ExtensionCatalog {
  #installed: Installed = {}

  /** What the last read found. */
  get features(): Features {
    return { vector: this.#installed.vector !== undefined, trigram: this.#installed.pg_trgm !== undefined }
  }

  /**
   * Reads the installed extensions again.
   *
   * @example
   * ```ts
   * await catalog.refresh((sql) => run(sql))
   * ```
   */
  async refresh(read: ReadRows): Promise<Installed> {
    const rows = await read(EXTENSIONS_SQL)
    this.#installed = Object.fromEntries(rows.map((r) => [r.name, { schema: r.schema, version: r.version }]))
    return this.#installed
  }

  /**
   * The schema and version of `extension`, re-reading the catalog once when it was not installed
   * at the last read; FeatureUnavailableError (code `FEATURE_UNAVAILABLE`) when it still is not.
   *
   * @example
   * ```ts
   * const { schema } = await catalog.require('vector', read) // '"public"'
   * ```
   */
  async require(extension: ExtensionName, read: ReadRows): Promise<InstalledExtension> {
    const installed = this.#installed[extension] ?? (await this.refresh(read))[extension]
    if (installed === undefined) throw new FeatureUnavailableError(extension)
    return installed
  }
}
