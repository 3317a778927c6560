/**
 * SSH to a VM or a monitoring server: key authentication only, the host key pinned, every
 * command an argument vector (quoted for the remote shell in one place), file content over
 * SFTP, never through a command string. Implemented by src/adapters/ssh.
 */

/** A host key as `ssh-keygen -lf` shows it: the algorithm and the SHA256 fingerprint of the key blob. */
export interface HostKey {
  /** e.g. ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa */
  algorithm: string;
  /** `SHA256:<base64 without padding>` */
  fingerprint: string;
}

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** OpenSSH or PEM private key (decrypted from the broker's store just before use). */
  privateKey: string;
  passphrase?: string;
  /** The key the server must present; a mismatch refuses the connection before authenticating. */
  expectedHostKey: HostKey;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs: number;
  /** Run under `sudo -n` (the step asks for it when the user is not root). */
  sudo?: boolean;
  stdin?: string | Buffer;
}

export interface RemoteSession {
  /** How errors about this connection name it (`SSH root@10.0.0.5:22`), for callers that report on it. */
  readonly label?: string;
  /** Runs one argument vector; resolves with its exit code (non-zero is not an error here). */
  run(argv: readonly string[], options: RunOptions): Promise<CommandResult>;
  /** Writes the file atomically (temporary file in the same directory, then rename) with `mode`. */
  writeFile(path: string, content: string | Buffer, mode: number): Promise<void>;
  /** The file's content, or null when it does not exist. */
  readFile(path: string): Promise<Buffer | null>;
  /** Removes the file; absent is fine. */
  removeFile(path: string): Promise<void>;
  close(): Promise<void>;
}

export interface RemoteShell {
  /** The host key a server presents, without authenticating (trust on first use at import). */
  fetchHostKey(host: string, port: number, timeoutMs: number): Promise<HostKey>;
  /** Connects, checks the host key, authenticates with the key; throws a clear error naming host and cause. */
  open(target: SshTarget, connectTimeoutMs: number): Promise<RemoteSession>;
}
