/**
 * The standby refresher, a task of the leader scheduler: every STANDBY_REFRESH_INTERVAL_SECONDS
 * it prepares the successor of each kept-fresh standby image due for one (a quarter of its
 * lifetime left; src/domain/standby.ts), so a fresh standby of that VM type is always in that
 * cloud. Only the leader runs it, and prepares are serialised per VM type and cloud.
 */
import { Logger } from 'pino';
import { StandbyImageService } from '../services/standby-image.service';
import { PeriodicTask } from './leader-scheduler';

export class StandbyRefresher implements PeriodicTask {
  readonly name = 'standby-refresher';

  constructor(
    private readonly standbys: StandbyImageService,
    private readonly logger: Logger,
    readonly intervalMs: number,
  ) {}

  async run(): Promise<void> {
    for (const r of await this.standbys.refreshKeptFresh()) {
      if (r.skipped) this.logger.info({ standbyImageId: r.standbyImageId, vmTypeId: r.vmTypeId, cloudId: r.cloudId, skipped: r.skipped }, 'kept-fresh standby image due, no successor prepared this round');
    }
  }
}
