import { Cluster } from '../faults/support/cluster.js'
import { waitFor } from '../faults/support/wait.js'

/** How long the delayed replica waits before it applies a transaction. */
export const APPLY_DELAY_MS = 2_000

/**
 * A private primary cluster with two streaming replicas made by `pg_basebackup -R`: `replica`
 * applies at once, `delayed` after {@link APPLY_DELAY_MS} (`recovery_min_apply_delay`), which
 * makes a stale read deterministic. Never the shared server.
 */
export class ReplicaPair {
  readonly primary: Cluster
  readonly replica: Cluster
  readonly delayed: Cluster

  private constructor(primary: Cluster, replica: Cluster, delayed: Cluster) {
    this.primary = primary
    this.replica = replica
    this.delayed = delayed
  }

  static async start(): Promise<ReplicaPair> {
    // WAL kept for replicas that fall behind or restart (a test stops one).
    const primary = await Cluster.start({ settings: ['wal_keep_size = 128MB'] })
    const standbys: Cluster[] = []
    try {
      standbys.push(await Cluster.replicaOf(primary))
      standbys.push(await Cluster.replicaOf(primary, [`recovery_min_apply_delay = '${APPLY_DELAY_MS}ms'`]))
      return new ReplicaPair(primary, standbys[0]!, standbys[1]!)
    } catch (err) {
      await Promise.all(standbys.map((s) => s.destroy()))
      await primary.destroy()
      throw err
    }
  }

  /** Waits until `standby` has replayed everything the primary has written so far. */
  async caughtUp(standby: Cluster, timeout = 15_000): Promise<void> {
    const lsn = await this.primary.psql('SELECT pg_current_wal_lsn()')
    await waitFor(
      `${standby.port} to replay ${lsn}`,
      async () => (await standby.psql(`SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)) === 't',
      { timeout, every: 50 },
    )
  }

  /** Connections of `applicationName` open on `cluster` (a replica's pool shows up there). */
  async connections(cluster: Cluster, applicationName: string): Promise<number> {
    return Number(await cluster.psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${applicationName}'`))
  }

  async destroy(): Promise<void> {
    await Promise.all([this.replica.destroy(), this.delayed.destroy()])
    await this.primary.destroy()
  }
}
