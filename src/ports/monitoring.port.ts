/**
 * Nagios 4: reading service states from its JSON CGI, and adding or removing a host's
 * configuration over SSH (write, verify the whole configuration, reload only if it passes).
 * Implemented by src/adapters/nagios.
 */
import { SampleState } from '../domain/enums';
import { RemoteSession } from './remote-shell.port';

export interface NagiosStatusEndpoint {
  /** `.../cgi-bin/nagios4/statusjson.cgi` */
  statusUrl: string;
  username: string;
  password: string;
}

/** One service of one host as Nagios last checked it. */
export interface ServiceStatus {
  host: string;
  /** Nagios's service description: the metric name. */
  service: string;
  state: SampleState;
  /** `last_check`: a stale check is not a fresh observation. */
  observedAt: Date;
  /** The first number of the plugin's perf data, if any. */
  value: number | null;
  output: string;
}

export interface MonitoringSource {
  /** Every service of every host (servicelist with details); throws on an unreachable or failing Nagios. */
  services(endpoint: NagiosStatusEndpoint): Promise<ServiceStatus[]>;
  /** Whether Nagios knows the host now (hostlist). */
  hasHost(endpoint: NagiosStatusEndpoint, hostName: string): Promise<boolean>;
  /** When the running Nagios last (re)started, and the time of the answer, both by Nagios's clock (programstatus). */
  programStatus(endpoint: NagiosStatusEndpoint): Promise<NagiosProgramStatus>;
}

export interface NagiosProgramStatus {
  /** program_start, epoch ms (Nagios has second resolution): a reload restarts it. */
  programStart: number;
  /** When Nagios answered (query_time), epoch ms. */
  now: number;
}

/** How to change one Nagios server's configuration, over an open SSH session to it. */
export interface NagiosConfigTarget {
  session: RemoteSession;
  /** Directory the broker writes one `<host>.cfg` per VM into (included by nagios.cfg's cfg_dir). */
  configDir: string;
  /** Argument vector that verifies the whole configuration (default `nagios4 -v /etc/nagios4/nagios.cfg`); exit 0 means valid. */
  verifyCommand: readonly string[];
  /** PID file whose process gets SIGHUP to reload (default `/run/nagios4/nagios4.pid`). */
  pidFile: string;
  sudo: boolean;
  timeoutMs: number;
  /**
   * Nagios's program status, read from its CGI. Given, a reload is over only once Nagios reports
   * a later start: it has re-read its configuration before the next change is written. (SIGHUP is
   * handled a moment later; a reload still pending while an unverified file sits in the directory
   * would read that file, and an invalid configuration stops Nagios.)
   */
  programStatus?: () => Promise<NagiosProgramStatus>;
}

export interface MonitoringConfigurator {
  /**
   * Writes `<configDir>/<fileName>`, verifies, and reloads only if the verification passes; on a
   * failed verification the previous file (or none) is restored, Nagios keeps running on its old
   * configuration, and the error says what the verifier printed.
   */
  putHostConfig(target: NagiosConfigTarget, fileName: string, content: string): Promise<void>;
  /** Removes the file, verifies and reloads (idempotent). */
  removeHostConfig(target: NagiosConfigTarget, fileName: string): Promise<void>;
}
