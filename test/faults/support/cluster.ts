import { execFile, execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './net.js'
import { toolMissing } from './tools.js'

const run = promisify(execFile)

/** Where Debian puts the PostgreSQL 15 server binaries. */
export const PG_BIN = process.env.AMDB_PG_BIN ?? '/usr/lib/postgresql/15/bin'

/**
 * True when a throwaway cluster can be made here (binaries present, a `postgres` OS user). When
 * it cannot and AMDB_REQUIRE_FAULT_TOOLS is set (CI), throws saying what is missing instead.
 */
export function clusterSupported(): boolean {
  const missing = clusterMissing()
  if (missing === undefined) return true
  toolMissing(`a private PostgreSQL cluster cannot be made here: ${missing}`)
  return false
}

/** What is missing to make a throwaway cluster, or undefined. */
function clusterMissing(): string | undefined {
  const binaries = ['initdb', 'pg_ctl', 'pg_basebackup'].filter((name) => !existsSync(join(PG_BIN, name)))
  if (binaries.length > 0) {
    return `${binaries.join(', ')} not found in ${PG_BIN} (set AMDB_PG_BIN, or install the server package, e.g. postgresql-15)`
  }
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' })
    return undefined
  } catch {
    return 'there is no `postgres` OS user to run them as'
  }
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /**
   * Password users to create: each may connect over TCP only with scram-sha-256. The `postgres`
   * superuser keeps trust over TCP so the test can administer the cluster.
   */
  passwordUsers?: readonly { name: string; password: string }[]
  /** Extra postgresql.conf lines. */
  settings?: readonly string[]
}

/**
 * A throwaway PostgreSQL cluster: `initdb` + `pg_ctl` in a temp dir, listening on a free
 * loopback port. Made for tests that kill, restart or freeze a server — never the shared one.
 * Call {@link Cluster.destroy} in afterAll; it also runs on process exit as a last resort.
 */
export class Cluster {
  readonly dir: string
  readonly port: number
  readonly #data: string
  #postmasterPid: number | undefined
  #frozen = new Set<number>()
  #destroyed = false
  readonly #onExit = (): void => this.#killSync()

  private constructor(dir: string, port: number) {
    this.dir = dir
    this.port = port
    this.#data = join(dir, 'data')
    process.once('exit', this.#onExit)
  }

  /** `postgres://user[:password]@127.0.0.1:port/database` for this cluster. */
  url(user = 'postgres', password?: string, database = 'postgres'): string {
    const auth = password === undefined ? user : `${user}:${encodeURIComponent(password)}`
    return `postgres://${auth}@127.0.0.1:${this.port}/${database}`
  }

  /** The postmaster's pid while it runs. */
  get postmasterPid(): number | undefined {
    return this.#postmasterPid
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const dir = mkdtempSync(join(tmpdir(), 'amdb-cluster-'))
    chmodSync(dir, 0o700)
    const { uid, gid } = postgresIds()
    chownSync(dir, uid, gid)
    const cluster = new Cluster(dir, await freePort())
    try {
      await asPostgres(join(PG_BIN, 'initdb'), ['-D', cluster.#data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'])
      appendFileSync(
        join(cluster.#data, 'postgresql.conf'),
        [
          `port = ${cluster.port}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = '${dir}'`,
          'fsync = off',
          'max_connections = 50',
          'shared_buffers = 16MB',
          "password_encryption = 'scram-sha-256'",
          ...(options.settings ?? []),
          '',
        ].join('\n'),
      )
      writeFileSync(
        join(cluster.#data, 'pg_hba.conf'),
        [
          'local all all trust',
          // pg_basebackup and a streaming replica (Cluster.replicaOf) connect for replication.
          'local replication postgres trust',
          'host replication postgres 127.0.0.1/32 trust',
          'host all postgres 127.0.0.1/32 trust',
          'host all all 127.0.0.1/32 scram-sha-256',
          '',
        ].join('\n'),
      )
      await cluster.startServer()
      for (const user of options.passwordUsers ?? []) {
        await cluster.psql(`CREATE ROLE "${user.name}" LOGIN PASSWORD '${user.password.replaceAll("'", "''")}'`)
      }
      return cluster
    } catch (err) {
      await cluster.destroy()
      throw err
    }
  }

  /**
   * A streaming replica of `primary` (PostgreSQL's own replication, `wal_level = replica` being
   * the default): `pg_basebackup -R` into a new temp dir, on its own free port, started as a hot
   * standby. `settings` are extra postgresql.conf lines, e.g. `recovery_min_apply_delay = '2s'`.
   */
  static async replicaOf(primary: Cluster, settings: readonly string[] = []): Promise<Cluster> {
    const dir = mkdtempSync(join(tmpdir(), 'amdb-replica-'))
    chmodSync(dir, 0o700)
    const { uid, gid } = postgresIds()
    chownSync(dir, uid, gid)
    const replica = new Cluster(dir, await freePort())
    try {
      await asPostgres(join(PG_BIN, 'pg_basebackup'), [
        '-h', primary.dir, '-p', String(primary.port), '-U', 'postgres', '-D', replica.#data, '-R', '-X', 'stream', '--no-sync',
      ])
      appendFileSync(
        join(replica.#data, 'postgresql.conf'),
        [`port = ${replica.port}`, `unix_socket_directories = '${dir}'`, 'hot_standby = on', ...settings, ''].join('\n'),
      )
      await replica.startServer()
      return replica
    } catch (err) {
      await replica.destroy()
      throw err
    }
  }

  /** Starts (or restarts after {@link stopServer}) the postmaster and waits until it accepts connections. */
  async startServer(): Promise<void> {
    await asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', this.#data, '-l', join(this.dir, 'server.log'), '-w', '-t', '30', 'start'])
    this.#postmasterPid = Number(readFileSync(join(this.#data, 'postmaster.pid'), 'utf8').split('\n')[0])
  }

  /** Stops the postmaster (`fast` disconnects clients; `immediate` is a crash-like stop). */
  async stopServer(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    this.thaw()
    await asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', this.#data, '-m', mode, '-w', '-t', '30', 'stop'])
    this.#postmasterPid = undefined
  }

  /** Runs SQL as the superuser through the cluster's own Unix socket. */
  async psql(statement: string, database = 'postgres'): Promise<string> {
    const { stdout } = await asPostgres(join(PG_BIN, 'psql'), [
      '-h', this.dir, '-p', String(this.port), '-U', 'postgres', '-d', database,
      '-v', 'ON_ERROR_STOP=1', '-X', '-A', '-t', '-c', statement,
    ])
    return stdout.trim()
  }

  /** Pids of the postmaster's children (backends and auxiliary processes). */
  children(): number[] {
    const parent = this.#postmasterPid
    if (parent === undefined) return []
    const pids: number[] = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        // pid (comm) state ppid …; comm may contain spaces, so read after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        if (ppid === parent) pids.push(Number(entry))
      } catch {
        // the process ended while we looked
      }
    }
    return pids
  }

  /** SIGSTOPs one backend of this cluster (it stays connected but answers nothing). */
  freezeBackend(pid: number): void {
    if (!this.children().includes(pid)) throw new Error(`pid ${pid} is not a process of this cluster`)
    process.kill(pid, 'SIGSTOP')
    this.#frozen.add(pid)
  }

  /** SIGSTOPs the postmaster and every child: the whole server hangs. */
  freezeAll(): void {
    const pm = this.#postmasterPid
    if (pm === undefined) throw new Error('cluster is not running')
    process.kill(pm, 'SIGSTOP')
    this.#frozen.add(pm)
    for (const pid of this.children()) {
      process.kill(pid, 'SIGSTOP')
      this.#frozen.add(pid)
    }
  }

  /** SIGCONTs every process this cluster froze. */
  thaw(): void {
    for (const pid of this.#frozen) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        // already gone
      }
    }
    this.#frozen.clear()
  }

  /** Stops the server and removes the temp dir. Safe to call twice and after a failed start. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    this.thaw()
    if (existsSync(join(this.#data, 'postmaster.pid'))) {
      await asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', this.#data, '-m', 'immediate', '-w', '-t', '20', 'stop']).catch(() =>
        this.#killSync(),
      )
    }
    rmSync(this.dir, { recursive: true, force: true })
    process.removeListener('exit', this.#onExit)
  }

  /** Last resort at process exit: SIGKILL the postmaster we started and remove the dir. */
  #killSync(): void {
    this.thaw()
    const pm = this.#postmasterPid
    if (pm !== undefined) {
      try {
        for (const pid of this.children()) process.kill(pid, 'SIGKILL')
        process.kill(pm, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

/** Runs a PostgreSQL binary as the `postgres` OS user (initdb refuses to run as root). */
async function asPostgres(bin: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const argv = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] as const : [bin, args] as const
  try {
    return await run(argv[0], [...argv[1]], { timeout: 60_000, cwd: '/' })
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error(`${bin.split('/').pop()} failed: ${e.stderr?.trim() || e.message}`)
  }
}
