// Issue 9, section 5: one process per dataDir. Two processes on one PGlite folder lost writes and
// spun at 100% CPU; now the second opener gets ConnectionError DATA_DIR_LOCKED at once (naming the
// folder and the holder's pid), a lock left by a killed process is taken over, and nothing
// already committed is lost. Real child processes, real `kill -9`. Embedded PGlite only.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, realpath, rm, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConnectionError, Db } from '../../src/index.js'
import { LOCK_FILE, lockDataDir } from '../../src/data-dir-lock.js'
import { backend } from '../support/test-db.js'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '../..')
const holderScript = join(here, 'support/data-dir-holder.ts')
const SLOW = { timeout: 180_000 }

let root: string
beforeAll(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'amdb-lock-')))
})
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await rm(root, { recursive: true, force: true })
})

let seq = 0
const freshDir = () => join(root, `data-${++seq}`)

interface Report {
  pid: number
  ready: boolean
  code?: string
  name?: string
  message?: string
}
const children: ChildProcess[] = []

/** Starts a child that opens `dataDir` (and commits an agent named `agent`); resolves with its report. */
function holder(dataDir: string, agent = ''): { child: ChildProcess; report: Promise<Report> } {
  const child = spawn(process.execPath, ['--import', 'tsx', holderScript, dataDir, agent], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const report = new Promise<Report>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.once('line', (line) => resolve(JSON.parse(line) as Report))
    child.once('exit', (code, signal) => reject(new Error(`holder exited (${code ?? signal}) without a report`)))
  })
  return { child, report }
}

/** `kill -9` and wait until the process is gone (reaped). */
function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    child.once('exit', () => resolve(child.pid!))
  })
}

async function writeLock(dir: string, record: object): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ origin: 0, host: hostname(), dir, token: 'x', ...record }))
}
const lockOf = async (dir: string) => JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number }
const hasProc = existsSync('/proc/self/stat')

describe.skipIf(backend === 'postgres')('one process per dataDir', SLOW, () => {
  test('another process gets DATA_DIR_LOCKED at once; after kill -9 of the holder, its lock is taken over and its committed row is there', async () => {
    const dir = freshDir()
    const first = holder(dir, 'written-before-kill')
    const held = await first.report
    expect(held).toMatchObject({ ready: true })

    const second = await holder(dir).report
    expect(second).toMatchObject({ ready: false, name: 'ConnectionError', code: 'DATA_DIR_LOCKED' })
    expect(second.message).toContain(dir)
    expect(second.message).toContain(String(held.pid))
    expect(await lockOf(dir)).toMatchObject({ pid: held.pid }) // the loser left the lock alone

    await killHard(first.child)
    expect(await lockOf(dir)).toMatchObject({ pid: held.pid }) // left behind by the killed holder

    const db = await Db.connect({ dataDir: dir })
    try {
      expect(await lockOf(dir)).toMatchObject({ pid: process.pid })
      expect(await db.agents.getByName('written-before-kill')).toMatchObject({ name: 'written-before-kill' })
    } finally {
      await db.close()
    }
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
  })

  test('processes racing for one stale lock: exactly one wins, the others get DATA_DIR_LOCKED', async () => {
    const dir = freshDir()
    const first = holder(dir, 'kept')
    expect(await first.report).toMatchObject({ ready: true })
    await killHard(first.child)

    const racers = [holder(dir), holder(dir), holder(dir)]
    const reports = await Promise.all(racers.map((r) => r.report))
    const winners = reports.filter((r) => r.ready)
    expect(winners).toHaveLength(1)
    for (const r of reports.filter((r) => !r.ready)) expect(r).toMatchObject({ code: 'DATA_DIR_LOCKED' })
    expect(await lockOf(dir)).toMatchObject({ pid: winners[0]!.pid })
    await Promise.all(racers.map((r) => (r.child.exitCode === null ? killHard(r.child) : undefined)))
  })

  test('a second Db of this process gets DATA_DIR_LOCKED; close() releases the folder', async () => {
    const dir = freshDir()
    const db = await Db.connect({ dataDir: dir, migrate: true })
    await db.agents.create({ name: 'in-process', type: 'simple', model: 'gpt-4' })
    const error = await Db.connect({ dataDir: dir }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: 'DATA_DIR_LOCKED' })
    expect((error as Error).message).toContain(dir)
    expect((error as Error).message).toContain(String(process.pid))
    // The refused opener changed nothing: the first Db still works.
    expect(await db.agents.count()).toBe(1)
    await db.close()

    const again = await Db.connect({ dataDir: `file://${dir}` }) // the same folder, spelled otherwise
    try {
      expect(await again.agents.getByName('in-process')).not.toBeNull()
      expect(await Db.connect({ dataDir: join(dir, '.') }).catch((e: unknown) => e)).toMatchObject({ code: 'DATA_DIR_LOCKED' })
    } finally {
      await again.close()
    }
  })

  test('a failed open releases the folder', async () => {
    const dir = freshDir()
    const setup = await Db.connect({ dataDir: dir })
    await setup.query('CREATE TABLE agents (x int)') // the first migration will fail on it
    await setup.close()
    await expect(Db.connect({ dataDir: dir, migrate: true })).rejects.toMatchObject({ code: 'MIGRATION' })
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
    const db = await Db.connect({ dataDir: dir })
    await db.close()
  })
})

describe.skipIf(backend === 'postgres')('a dataDir that cannot hold a lock', () => {
  test('a file instead of a folder is a ConnectionError EMBEDDED naming it, with the system error as cause', async () => {
    const file = join(freshDir(), 'not-a-folder')
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, 'x')
    const err = await Db.connect({ dataDir: file }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConnectionError)
    expect(err).toMatchObject({ code: 'EMBEDDED' })
    expect((err as Error).message).toContain('not-a-folder')
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ENOTDIR')
  })
})

describe.skipIf(backend === 'postgres')('stale or foreign lock files', () => {
  test('a lock whose process is gone is taken over', async () => {
    const dir = freshDir()
    await writeLock(dir, { pid: await deadPid() })
    const lock = await lockDataDir(dir)
    expect(await lockOf(dir)).toMatchObject({ pid: process.pid })
    await lock.release()
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
  })

  test('a live process holding the lock keeps it', async () => {
    const dir = freshDir()
    await writeLock(dir, { pid: process.ppid })
    const error = await lockDataDir(dir).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'ConnectionError', code: 'DATA_DIR_LOCKED' })
    expect((error as Error).message).toContain(String(process.ppid))
    expect(await lockOf(dir)).toMatchObject({ pid: process.ppid })
  })

  test.runIf(hasProc)('a reused pid is not the holder: a live process that started at another time', async () => {
    const dir = freshDir()
    await writeLock(dir, { pid: process.ppid, start: '1' })
    const lock = await lockDataDir(dir)
    expect(await lockOf(dir)).toMatchObject({ pid: process.pid })
    await lock.release()
  })

  test('our own pid written by an earlier process (a restarted container) is stale; by this one, held', async () => {
    const dir = freshDir()
    await writeLock(dir, { pid: process.pid, start: '1', origin: 1 })
    const lock = await lockDataDir(dir)
    await expect(lockDataDir(dir)).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' })
    await lock.release()
  })

  test('a lock written on another host is kept, and the message says which file to delete', async () => {
    const dir = freshDir()
    await writeLock(dir, { pid: 4242, host: 'some-other-host' })
    const error = await lockDataDir(dir).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'DATA_DIR_LOCKED' })
    expect((error as Error).message).toContain('some-other-host')
    expect((error as Error).message).toContain(join(dir, LOCK_FILE))
  })

  test('an unreadable lock file is taken over once it is old, not while it may be being written', async () => {
    const dir = freshDir()
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, LOCK_FILE), '')
    await expect(lockDataDir(dir)).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' })
    const old = new Date(Date.now() - 60_000)
    await utimes(join(dir, LOCK_FILE), old, old)
    const lock = await lockDataDir(dir)
    await lock.release()
  })

  test('takers racing for one stale lock in this process: exactly one wins', async () => {
    const dir = freshDir()
    await writeLock(dir, { pid: await deadPid() })
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => lockDataDir(dir)))
    const won = outcomes.filter((o) => o.status === 'fulfilled')
    expect(won).toHaveLength(1)
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'DATA_DIR_LOCKED' })
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockDataDir>>>).value.release()
  })

  test('release() never deletes a lock that is no longer ours', async () => {
    const dir = freshDir()
    const lock = await lockDataDir(dir)
    await writeLock(dir, { pid: process.ppid }) // someone else's now
    await lock.release()
    expect(await lockOf(dir)).toMatchObject({ pid: process.ppid })
  })
})
