import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { extname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Migration } from 'kysely/migration'
import { migrations as core } from '../migrations/index.js'
import { MigrationError } from './errors.js'

/**
 * An app's own migrations: a record of Kysely migrations (name → `{ up, down? }`, applied in
 * name order), or the path of a folder holding one module per migration.
 */
export type AppMigrations = Readonly<Record<string, Migration>> | string | URL

/** Who a migration belongs to: the package itself, or the app that passed it. */
export type MigrationOwner = 'automagik-db' | 'app'

/** The migrations automagik-db ships, in order. */
export const coreMigrations: Readonly<Record<string, Migration>> = core

const MODULE_EXTENSIONS: ReadonlySet<string> = new Set(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'])
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/

/**
 * The app's migrations as a record, checked: a folder becomes one migration per module (`.js`,
 * `.mjs`, `.cjs`, and `.ts`/`.mts` where Node itself imports TypeScript), named by its file name
 * without the extension, in file-name order; declaration files and names starting with `.` or
 * `_` are skipped. A module or record entry without an `up` function is a MigrationError naming it.
 *
 * @example
 * ```ts
 * const app = await loadAppMigrations('./migrations') // { '0001-invoices': { up, down } }
 * ```
 */
export async function loadAppMigrations(source?: AppMigrations): Promise<Readonly<Record<string, Migration>>> {
  if (source === undefined) return {}
  const record =
    typeof source === 'string' ? await loadFolder(source) : source instanceof URL ? await loadFolder(fileURLToPath(source)) : source
  for (const [name, migration] of Object.entries(record)) {
    if (!NAME_RE.test(name)) {
      throw new MigrationError(`app migration name ${JSON.stringify(name)} must be letters, digits, _, . and - (at most 200)`)
    }
    if (typeof migration?.up !== 'function') throw new MigrationError(`app migration ${name} has no up() function`)
    if (migration.down !== undefined && typeof migration.down !== 'function') {
      throw new MigrationError(`app migration ${name}: down must be a function`)
    }
  }
  return record
}

async function loadFolder(folder: string): Promise<Record<string, Migration>> {
  const dir = resolve(folder)
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code
    throw new MigrationError(`the migrations folder ${dir} cannot be read${code ? ` (${code})` : ''}`, { cause: err })
  }
  const files = entries
    .filter((f) => MODULE_EXTENSIONS.has(extname(f)) && !/\.d\.[cm]?ts$/.test(f) && !/^[._]/.test(f))
    .sort()
  const record: Record<string, Migration> = {}
  for (const file of files) {
    const name = file.slice(0, -extname(file).length)
    if (name in record) throw new MigrationError(`two migration files are named ${name} in ${folder}`)
    let module: Partial<Migration> & { default?: Partial<Migration> }
    try {
      module = await import(pathToFileURL(join(dir, file)).href)
    } catch (err) {
      throw new MigrationError(`the migration ${file} could not be loaded: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    }
    // `export async function up` or a default export of `{ up, down }`.
    const migration = typeof module.up === 'function' ? module : module.default
    if (typeof migration?.up !== 'function') throw new MigrationError(`the migration ${file} exports no up() function`)
    record[name] = { up: migration.up, ...(migration.down ? { down: migration.down } : {}) }
  }
  return record
}

/**
 * A digest of migrations (names and the source text of their functions): equal digests mean the
 * same schema, so a snapshot or template database made from one can stand in for the other.
 *
 * @example
 * ```ts
 * const key = migrationsFingerprint(coreMigrations, await loadAppMigrations('./migrations'))
 * ```
 */
export function migrationsFingerprint(...sets: readonly Readonly<Record<string, Migration>>[]): string {
  const hash = createHash('sha256')
  sets.forEach((set, i) => {
    for (const name of Object.keys(set).sort()) {
      const m = set[name]!
      hash.update(`${i}\0${name}\0${String(m.up)}\0${m.down ? String(m.down) : ''}\0`)
    }
  })
  return hash.digest('hex')
}
