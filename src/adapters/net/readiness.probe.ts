/**
 * Readiness probes of a VM's service, under the endpoint policy (a VM's address comes from its
 * cloud, which may be hostile: a probe must not become a way to reach what the broker can
 * reach). UDP has no handshake, so "answers" means a SIP reply to an OPTIONS request, the check
 * SIP servers and load balancers use themselves.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { EndpointPolicy, judgeAddress } from '../../domain/endpoint-policy';
import { ReadinessProbe } from '../../ports/readiness-probe.port';
import { connectGuarded } from './guarded-socket';

export class NetReadinessProbe implements ReadinessProbe {
  constructor(private readonly policy: EndpointPolicy) {}

  async tcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
    try {
      const socket = await connectGuarded(host, port, { policy: this.policy, subject: 'integration endpoints', timeoutMs });
      socket.destroy();
      return true;
    } catch (err) {
      if ((err as { name?: string }).name === 'EndpointRefusedError') throw err;
      return false;
    }
  }

  async sipUdp(host: string, port: number, timeoutMs: number): Promise<boolean> {
    if (!net.isIP(host)) return false;
    const verdict = judgeAddress(this.policy, host);
    if (!verdict.allowed) throw Object.assign(new Error(`the readiness probe's address ${host} is refused by the endpoint policy`), { name: 'EndpointRefusedError' });
    const family = net.isIPv6(host) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket(family);
    const branch = `z9hG4bK${crypto.randomBytes(8).toString('hex')}`;
    const callId = crypto.randomBytes(12).toString('hex');
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        socket.close();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      socket.on('error', () => done(false));
      socket.on('message', (msg) => {
        // Any SIP response to our request (same Call-ID): the server is up and parsing SIP.
        const text = msg.toString('latin1');
        if (text.startsWith('SIP/2.0 ') && text.includes(callId)) done(true);
      });
      socket.bind(0, () => {
        const { port: localPort } = socket.address();
        const local = family === 'udp6' ? '::1' : '127.0.0.1';
        const target = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
        const request = [
          `OPTIONS sip:${target} SIP/2.0`,
          `Via: SIP/2.0/UDP ${local}:${localPort};branch=${branch};rport`,
          'Max-Forwards: 70',
          `From: <sip:intercloud@${local}>;tag=${crypto.randomBytes(4).toString('hex')}`,
          `To: <sip:${target}>`,
          `Call-ID: ${callId}`,
          'CSeq: 1 OPTIONS',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        socket.send(Buffer.from(request, 'latin1'), port, host, (err) => err && done(false));
      });
    });
  }
}
