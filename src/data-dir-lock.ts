import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { ConnectionError } from './errors.js'

/** The lock file, inside the data folder (like PostgreSQL's own `postmaster.pid`). */
export const LOCK_FILE = 'automagik-db.lock'

/** A takeover that started longer ago than this was cut short (its process died): cleared. */
const TAKEOVER_STALE_MS = 10_000
/** A lock file that is not valid JSON and older than this is left over from a crash. */
const CORRUPT_STALE_MS = 5_000
const MAX_ATTEMPTS = 50

/** What the lock file says about the process holding the folder. */
interface LockRecord {
  pid: number
  /** Linux: the holder's start time in clock ticks since boot (tells it from a later process with its pid). */
  start?: string
  /** Linux: the kernel boot id; a lock written before a reboot is stale. */
  boot?: string
  /** When the holder process started, in epoch ms (where `/proc` is missing). */
  origin: number
  host: string
  dir: string
  token: string
}

/** The held lock of one data folder. */
export interface DataDirLock {
  /** The lock file. */
  readonly path: string
  /** Puts our record back if the folder's content was replaced while opening (a restored snapshot). */
  confirm(): Promise<void>
  /** Deletes the lock file if it is still ours; later calls do nothing. */
  release(): Promise<void>
}

/**
 * The folder PGlite keeps its files in, for a `dataDir` it stores on disk: a plain path or
 * `file://…`; undefined for `memory://` and the browser's stores, which no other process can open.
 *
 * @example
 * ```ts
 * diskFolder('file:///srv/data') // '/srv/data'
 * ```
 */
export function diskFolder(dataDir: string): string | undefined {
  if (dataDir.startsWith('file://')) return dataDir.slice('file://'.length) || undefined
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(dataDir) ? undefined : dataDir
}

/**
 * Takes the folder's lock for this process, or throws ConnectionError `DATA_DIR_LOCKED` at once
 * when a live process (this one included) holds it. A lock whose holder is gone (killed, crashed,
 * a reboot, or a reused pid) is taken over; takers of one stale lock are serialised, so exactly
 * one of them wins.
 *
 * @example
 * ```ts
 * const lock = await lockDataDir('./data')
 * try { … } finally { await lock.release() }
 * ```
 */
export async function lockDataDir(folder: string): Promise<DataDirLock> {
  let dir: string
  try {
    await makeFolder(resolve(folder))
    dir = await fs.realpath(folder)
  } catch (err) {
    throw new ConnectionError(`the embedded database's folder ${folder} could not be created`, { code: 'EMBEDDED', cause: err })
  }
  const path = join(dir, LOCK_FILE)
  try {
    const mine = JSON.stringify(await ownRecord(dir))
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (await createExclusive(path, mine)) return heldLock(path, mine)
      const seen = await readLock(path)
      if (seen === undefined) continue // released in between: try again
      const state = await holderState(seen)
      if (state !== 'gone') throw lockedError(dir, seen, state)
      if (await takeOver(path, seen.raw, mine)) return heldLock(path, mine)
      await sleep(5 + attempt * 2)
    }
  } catch (err) {
    if (err instanceof ConnectionError) throw err
    // Not a folder, read-only, out of space: say which folder, keep the system error as cause.
    const code = (err as NodeJS.ErrnoException)?.code
    throw new ConnectionError(`the embedded database's folder ${dir} cannot hold its lock file${code ? ` (${code})` : ''}`, {
      code: 'EMBEDDED',
      cause: err,
    })
  }
  throw new ConnectionError(
    `the embedded database's folder ${dir} is locked: other processes keep taking over its stale lock; try again`,
    { code: 'DATA_DIR_LOCKED' },
  )
}

function heldLock(path: string, mine: string): DataDirLock {
  let released = false
  return {
    path,
    async confirm() {
      if (released || (await readRaw(path)) === mine) return
      const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
      await fs.writeFile(tmp, mine)
      await fs.rename(tmp, path)
    },
    async release() {
      if (released) return
      released = true
      // Never delete a lock that is not ours (it was taken over while we looked stale).
      if ((await readRaw(path)) === mine) await fs.unlink(path).catch(() => undefined)
    },
  }
}

interface SeenLock {
  raw: string
  record: LockRecord | undefined
  /** Age of the file in ms. */
  age: number
}

type HolderState = 'alive' | 'this process' | 'other host' | 'being written' | 'gone'

async function holderState(seen: SeenLock): Promise<HolderState> {
  const h = seen.record
  if (h === undefined) return seen.age > CORRUPT_STALE_MS ? 'gone' : 'being written'
  // Another machine (or container) wrote it: its process can't be checked from here.
  if (h.host !== hostname()) return 'other host'
  const boot = await bootId()
  if (h.boot !== undefined && boot !== undefined && h.boot !== boot) return 'gone'
  if (h.pid === process.pid) {
    const start = await startOf(process.pid)
    const same = h.start !== undefined && start !== undefined ? h.start === start : Math.abs(h.origin - processOrigin()) < 2_000
    return same ? 'this process' : 'gone'
  }
  if (h.start !== undefined) {
    const start = await startOf(h.pid)
    // A different start time: the pid now belongs to another process.
    if (start !== undefined) return start === h.start ? 'alive' : 'gone'
  }
  // No start time to compare: ask the kernel whether the pid exists (EPERM: it does, another user's).
  try {
    process.kill(h.pid, 0)
    return 'alive'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'gone'
  }
}

function lockedError(dir: string, seen: SeenLock, state: HolderState): ConnectionError {
  const h = seen.record
  const file = join(dir, LOCK_FILE)
  const why =
    state === 'this process'
      ? `another Db of this process (pid ${process.pid}) has it open: close that one first, or share it`
      : state === 'other host'
        ? `process ${h!.pid} on host ${h!.host} holds it; this host can't tell whether that process still ` +
          `runs. If it does not, delete ${file}`
        : state === 'being written'
          ? 'another process is taking its lock right now'
          : `process ${h!.pid} has it open`
  return new ConnectionError(
    `the embedded database's folder ${dir} is in use: ${why}. PGlite allows one process per folder ` +
      '(give each process its own dataDir, or use a PostgreSQL server).',
    { code: 'DATA_DIR_LOCKED' },
  )
}

/**
 * Replaces the stale lock `staleRaw` by ours. Takers hold `<lock>.takeover` (a directory: mkdir
 * is atomic) while they re-read, delete and create, so of two processes that judged the same
 * lock stale only one deletes it, and never a lock that a winner has just written.
 */
async function takeOver(path: string, staleRaw: string, mine: string): Promise<boolean> {
  const mutex = `${path}.takeover`
  if (!(await enterMutex(mutex))) return false
  try {
    const now = await readRaw(path)
    if (now !== undefined && now !== staleRaw) return false // changed meanwhile: judge it again
    if (now !== undefined) await fs.unlink(path)
    return await createExclusive(path, mine)
  } finally {
    await fs.rmdir(mutex).catch(() => undefined)
  }
}

async function enterMutex(mutex: string): Promise<boolean> {
  try {
    await fs.mkdir(mutex)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  // A takeover takes milliseconds: one this old belongs to a process that died during it.
  const since = await fs.stat(mutex).then((s) => Date.now() - s.mtimeMs, () => 0)
  if (since > TAKEOVER_STALE_MS) await fs.rmdir(mutex).catch(() => undefined)
  return false
}

/**
 * Creates the lock file with its whole content in one step (a hard link of a written temporary
 * file), or returns false when it exists. Where hard links are unsupported, `open('wx')`.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  await fs.writeFile(tmp, content)
  try {
    await fs.link(tmp, path)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err
  } finally {
    await fs.unlink(tmp).catch(() => undefined)
  }
  try {
    await fs.writeFile(path, content, { flag: 'wx' })
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

/**
 * `mkdir -p`, one level at a time: Node's own `recursive: true` never returns for some paths
 * (under `/proc`, where mkdir answers ENOENT although the parent exists).
 */
async function makeFolder(path: string): Promise<void> {
  const mkdir = () =>
    fs.mkdir(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
    })
  try {
    return await mkdir()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(path) === path) throw err
  }
  await makeFolder(dirname(path))
  await mkdir()
}

async function readRaw(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

async function readLock(path: string): Promise<SeenLock | undefined> {
  const [raw, stat] = await Promise.all([readRaw(path), fs.stat(path).catch(() => undefined)])
  if (raw === undefined || stat === undefined) return undefined
  return { raw, record: parseRecord(raw), age: Date.now() - stat.mtimeMs }
}

function parseRecord(raw: string): LockRecord | undefined {
  try {
    const r = JSON.parse(raw) as Partial<LockRecord>
    const ok = Number.isInteger(r.pid) && typeof r.host === 'string' && typeof r.origin === 'number'
    return ok ? (r as LockRecord) : undefined
  } catch {
    return undefined
  }
}

async function ownRecord(dir: string): Promise<LockRecord> {
  const [start, boot] = await Promise.all([startOf(process.pid), bootId()])
  const record: LockRecord = {
    pid: process.pid,
    origin: processOrigin(),
    host: hostname(),
    dir,
    token: randomBytes(8).toString('hex'),
  }
  if (start !== undefined && start !== 'zombie') record.start = start
  if (boot !== undefined) record.boot = boot
  return record
}

/** Epoch ms at which this process started (the same in every thread of it). */
const processOrigin = (): number => Math.round(Date.now() - process.uptime() * 1000)

/**
 * Linux: a process's start time (field 22 of `/proc/<pid>/stat`), `zombie` for a process that
 * has exited but was not reaped yet, undefined when it can't be read (no such process, no
 * `/proc`, or `/proc` hides other users' processes).
 */
async function startOf(pid: number): Promise<string | undefined> {
  let stat: string
  try {
    stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so count after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields[0] === 'Z' || fields[0] === 'X' ? 'zombie' : fields[19]
}

async function bootId(): Promise<string | undefined> {
  return fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').then((s) => s.trim(), () => undefined)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
