import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

/** The environment variable that moves the cache of migrated test databases. */
export const CACHE_DIR_ENV = 'AUTOMAGIK_DB_CACHE_DIR'

/**
 * Where migrated PGlite snapshots are kept: `explicit`, else `AUTOMAGIK_DB_CACHE_DIR`, else
 * `node_modules/.cache/automagik-db` of the nearest `node_modules` above the working directory
 * (where build tools keep their caches; `rm -rf node_modules` clears it), else
 * `<os tmpdir>/automagik-db-cache`.
 *
 * @example
 * ```ts
 * cacheDirectory() // '/app/node_modules/.cache/automagik-db'
 * ```
 */
export function cacheDirectory(explicit?: string): string {
  const chosen = explicit ?? process.env[CACHE_DIR_ENV]
  if (chosen !== undefined && chosen !== '') return resolve(chosen)
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules', '.cache', 'automagik-db')
    if (dirname(dir) === dir) break
  }
  return join(tmpdir(), 'automagik-db-cache')
}

/**
 * The installed PGlite's version: a snapshot is only loaded by the PGlite that wrote it (its
 * files follow that build's PostgreSQL catalog).
 *
 * @example
 * ```ts
 * pgliteVersion() // '0.5.16'
 * ```
 */
export function pgliteVersion(): string {
  try {
    const require = createRequire(import.meta.url)
    // The package exports no package.json; it sits one folder above the entry point (dist/).
    const entry = require.resolve('@electric-sql/pglite')
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * The file's bytes, or undefined when it does not exist or cannot be read.
 *
 * @example
 * ```ts
 * const tar = await readIfPresent('/cache/pglite-0.5.16-ab12.tar')
 * ```
 */
export async function readIfPresent(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file)
  } catch {
    return undefined
  }
}

/**
 * Writes `data` to `file` so that no reader ever sees part of it: into a temporary file of the
 * same folder (unique to this process and call), then renamed over `file` (atomic on one file
 * system). Several processes may write the same file at once: one of the complete copies wins.
 * Returns false, without throwing, when the cache cannot be written (read-only, full disk).
 *
 * @example
 * ```ts
 * await writeAtomically('/cache/pglite-0.5.16-ab12.tar', tarball)
 * ```
 */
export async function writeAtomically(file: string, data: Uint8Array): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await mkdir(dirname(file), { recursive: true })
    await writeFile(temp, data)
    await rename(temp, file)
    return true
  } catch {
    await rm(temp, { force: true }).catch(() => undefined)
    return false
  }
}

/**
 * Deletes `file` if it exists; never throws (a snapshot found unusable is dropped this way).
 *
 * @example
 * ```ts
 * await removeQuietly('/cache/pglite-0.5.16-ab12.tar')
 * ```
 */
export async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => undefined)
}

/** Snapshots unused for this long are deleted when another one is written. */
const KEEP_UNUSED_MS = 7 * 24 * 3600_000
/** A temporary file this old was left by a process that died while writing. */
const KEEP_TEMP_MS = 3600_000

/**
 * Marks `file` as used now (its modification time), so that {@link pruneCache} keeps it.
 *
 * @example
 * ```ts
 * await touch('/cache/pglite-0.5.16-2-ab12.tar')
 * ```
 */
export async function touch(file: string): Promise<void> {
  const now = new Date()
  await utimes(file, now, now).catch(() => undefined)
}

/**
 * Deletes, in `dir`, snapshots (`pglite-*.tar`) other than `keep` unused for 7 days, and
 * temporary files left for an hour by writers that died. Never throws.
 *
 * @example
 * ```ts
 * await pruneCache('/cache', '/cache/pglite-0.5.16-2-ab12.tar')
 * ```
 */
export async function pruneCache(dir: string, keep: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    const file = join(dir, name)
    const limit = name.endsWith('.tmp') ? KEEP_TEMP_MS : /^pglite-.*\.tar$/.test(name) ? KEEP_UNUSED_MS : undefined
    if (limit === undefined || file === keep) continue
    const info = await stat(file).catch(() => undefined)
    if (info !== undefined && Date.now() - info.mtimeMs > limit) await removeQuietly(file)
  }
}
