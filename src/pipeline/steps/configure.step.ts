/**
 * CONFIGURE: the VM type's recipe, run on the clone over SSH. The clone carries its source's
 * disk and so its host keys: the source VM's pinned key is the one the clone must present (a
 * mismatch, or a source without a pinned key, stops the step; nothing is trusted silently). Files
 * are rendered from templates and written over SFTP (as root via `sudo -n` with the content on
 * stdin, never in a command string), then the commands run as argument vectors, then the
 * readiness check must pass. The clone is still booting when the step starts, so it waits for
 * its sshd to answer and accept the key.
 */
import { ClonePhase, PermanentStepError, StepErrorCode } from '../../domain/clone-phase';
import { DomainError } from '../../domain/errors';
import { pinnedHostKeyOf, renderRecipe, RenderedRecipe } from '../../domain/sip-bindings';
import { sleep } from '../../domain/retry';
import { RemoteSession, SshTarget } from '../../ports/remote-shell.port';
import { ConfigureAccess } from '../../services/sip-bindings.service';
import { CloneContext, CloneStep } from '../clone-step';
import { expectedKey, rendered, SipStepDeps } from '../sip/sip-step.deps';
import { cloneAddress, cloneTemplateValues } from './clone-values';

/** Integration failures worth waiting out while the clone boots (its sshd, or its authorized key, not there yet). */
const NOT_YET = new Set(['NO_ANSWER', 'TIMEOUT', 'AUTH_REFUSED']);

const reasonOf = (err: unknown): string | undefined => (err instanceof DomainError ? (err.details.reason as string | undefined) : undefined);

export function configureStep(sip: SipStepDeps): CloneStep {
  return {
    phase: ClonePhase.CONFIGURE,
    applies: (ctx) => !!ctx.vmType?.configureRecipe,

    async run(ctx) {
      const access = await sip.bindings.configureAccess(ctx.vmType!);
      if (!access) return;
      const pinned = pinnedHostKeyOf(ctx.source.vm);
      if (!pinned) {
        throw new PermanentStepError(
          StepErrorCode.HOST_KEY_MISSING,
          `the source VM ${ctx.source.vm.name} has no pinned SSH host key, so the clone's cannot be checked: set it with setVmHostKey`,
        );
      }
      const address = cloneAddress(ctx);
      if (!address) throw new PermanentStepError(StepErrorCode.CONFIGURE_FAILED, `the clone has no address to reach it over SSH`);
      const recipe = rendered(() => renderRecipe(access.recipe, cloneTemplateValues(ctx)));
      const target: SshTarget = { host: address, port: access.recipe.sshPort, ...access.login, expectedHostKey: expectedKey(pinned) };
      const session = await openWhenReady(sip, ctx, target);
      try {
        await writeFiles(sip, session, recipe, access);
        await runCommands(sip, session, recipe, access);
      } finally {
        await session.close();
      }
      await waitReady(sip, ctx, address, recipe, access, target);
      ctx.log.info({ files: recipe.files.length, commands: recipe.commands.length }, 'clone configured');
    },
    // Nothing to undo: BOOT's undo deletes the server, and with it everything written here.
  };
}

/** Opens the session once the clone's sshd answers; a host key mismatch is final at once. */
async function openWhenReady(sip: SipStepDeps, ctx: CloneContext, target: SshTarget): Promise<RemoteSession> {
  const deadline = Date.now() + sip.timeouts.sshReadyMs;
  for (;;) {
    try {
      return await sip.remoteShell.open(target, Math.min(sip.timeouts.commandMs, 30_000));
    } catch (err) {
      const reason = reasonOf(err);
      if (reason === 'HOST_KEY_MISMATCH') throw new PermanentStepError(StepErrorCode.HOST_KEY_MISMATCH, (err as Error).message);
      if (!reason || !NOT_YET.has(reason) || Date.now() > deadline) throw err;
      ctx.log.debug({ reason }, 'clone not reachable over SSH yet');
      await sleep(sip.timeouts.pollMs, ctx.signal);
    }
  }
}

async function writeFiles(sip: SipStepDeps, session: RemoteSession, recipe: RenderedRecipe, access: ConfigureAccess): Promise<void> {
  for (const file of recipe.files) {
    if (!access.sudo) {
      await session.writeFile(file.path, file.content, file.mode);
      continue;
    }
    // As root: a fixed script with the path and mode as arguments and the content on stdin.
    const script = 'umask 077 && cat > "$1.intercloud-tmp" && chmod "$2" "$1.intercloud-tmp" && mv -f "$1.intercloud-tmp" "$1"';
    const result = await session.run(['sh', '-c', script, 'sh', file.path, file.mode.toString(8)], { timeoutMs: sip.timeouts.commandMs, sudo: true, stdin: file.content });
    if (result.exitCode !== 0) {
      throw new PermanentStepError(StepErrorCode.CONFIGURE_FAILED, `writing ${file.path} on the clone failed (exit ${result.exitCode}): ${tail(result.stderr)}`);
    }
  }
}

async function runCommands(sip: SipStepDeps, session: RemoteSession, recipe: RenderedRecipe, access: ConfigureAccess): Promise<void> {
  for (const argv of recipe.commands) {
    const result = await session.run(argv, { timeoutMs: sip.timeouts.commandMs, sudo: access.sudo });
    if (result.exitCode !== 0) {
      throw new PermanentStepError(StepErrorCode.CONFIGURE_FAILED, `${JSON.stringify(argv[0])} on the clone exited ${result.exitCode}: ${tail(result.stderr || result.stdout)}`);
    }
  }
}

/** The recipe's readiness check (a command that exits 0, a TCP port that accepts, a SIP UDP port that answers), within its timeout. */
async function waitReady(sip: SipStepDeps, ctx: CloneContext, address: string, recipe: RenderedRecipe, access: ConfigureAccess, target: SshTarget): Promise<void> {
  const check = recipe.readiness;
  if (!check) return;
  const deadline = Date.now() + check.timeoutSeconds * 1000;
  const probe = Math.min(5000, check.timeoutSeconds * 1000);
  let last = 'not checked yet';
  for (;;) {
    let ok = true;
    if (check.command) {
      const session = await sip.remoteShell.open(target, Math.min(sip.timeouts.commandMs, 30_000));
      try {
        const r = await session.run(check.command, { timeoutMs: probe, sudo: access.sudo });
        ok = r.exitCode === 0;
        if (!ok) last = `the readiness command exited ${r.exitCode}: ${tail(r.stderr || r.stdout)}`;
      } finally {
        await session.close();
      }
    }
    if (ok && check.tcpPort) {
      ok = await sip.readiness.tcp(address, check.tcpPort, probe);
      if (!ok) last = `TCP ${address}:${check.tcpPort} does not accept connections`;
    }
    if (ok && check.udpPort) {
      ok = await sip.readiness.sipUdp(address, check.udpPort, probe);
      if (!ok) last = `SIP on UDP ${address}:${check.udpPort} does not answer OPTIONS`;
    }
    if (ok) return;
    if (Date.now() > deadline) throw new PermanentStepError(StepErrorCode.NOT_READY, `the clone was not ready within ${check.timeoutSeconds} s: ${last}`);
    await sleep(sip.timeouts.pollMs, ctx.signal);
  }
}

/** The end of a command's output, bounded, for an error message. */
function tail(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `...${flat.slice(-300)}` : flat || '(no output)';
}
