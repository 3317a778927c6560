/** What a VM type's bindings render to for one VM: recipe, Nagios host, load-balancer destination. */
import { DrainAction } from '../../src/domain/enums';
import { metricOf, nagiosHostNameOf, renderDestination, renderNagiosHost, renderRecipe } from '../../src/domain/sip-bindings';
import { TemplateRenderError, TemplateValues } from '../../src/domain/template';

const values: TemplateValues = {
  fixedIp: '127.0.12.10',
  floatingIp: null,
  publicIp: '127.0.12.10',
  sourceFixedIp: '127.0.10.10',
  hostname: 'opensips-1-clone',
  cloudName: 'partner',
  vmName: 'opensips-1-clone',
  vmId: '0b5e9a5c-0000-4000-8000-000000000001',
  vmTypeName: 'opensips',
  jobId: '0b5e9a5c-0000-4000-8000-000000000002',
};

describe('SIP bindings rendered for a VM', () => {
  it('renders recipe files, command arguments and the readiness command, each argument staying one argument', () => {
    const rendered = renderRecipe(
      {
        sshKeyId: 'k',
        sshPort: 22,
        sudo: null,
        files: [{ path: '/etc/opensips/listen.cfg', template: 'listen=udp:{{fixedIp}}:5060 # was {{sourceFixedIp}}\n', mode: 0o640 }],
        commands: [['sipp', '-sf', '/srv/uas.xml', '-i', '{{fixedIp}}', '-p', '5070', '-bg'], ['logger', 'configured {{vmName}}; $(id)']],
        readiness: { command: ['sipp-ping', '{{fixedIp}}:5070'], tcpPort: null, udpPort: 5070, timeoutSeconds: 30 },
      },
      values,
    );
    expect(rendered).toEqual({
      files: [{ path: '/etc/opensips/listen.cfg', content: 'listen=udp:127.0.12.10:5060 # was 127.0.10.10\n', mode: 0o640 }],
      commands: [['sipp', '-sf', '/srv/uas.xml', '-i', '127.0.12.10', '-p', '5070', '-bg'], ['logger', 'configured opensips-1-clone; $(id)']],
      readiness: { command: ['sipp-ping', '127.0.12.10:5070'], tcpPort: null, udpPort: 5070, timeoutSeconds: 30 },
    });
  });

  it('renders the Nagios host name and objects, and names the file after the host', () => {
    const binding = { serverId: 's', hostName: '{{cloudName}}-{{vmName}}', hostTemplate: 'define host {\n  host_name {{hostName}}\n  address {{fixedIp}}\n}\n', metrics: [] };
    expect(renderNagiosHost(binding, values)).toEqual({
      hostName: 'partner-opensips-1-clone',
      fileName: 'partner-opensips-1-clone.cfg',
      content: 'define host {\n  host_name partner-opensips-1-clone\n  address 127.0.12.10\n}\n',
    });
  });

  it('refuses a host name that is no Nagios object name (it would also be a file name)', () => {
    for (const vmName of ['a b', 'x/../../etc/passwd', 'a;b', 'name(1)']) {
      expect(() => nagiosHostNameOf({ hostName: '{{vmName}}' }, { ...values, vmName })).toThrow(TemplateRenderError);
    }
  });

  it('maps services to metrics, by default to their own name', () => {
    const binding = { metrics: [{ service: 'Active Calls', metric: 'active calls' }] };
    expect(metricOf(binding, 'Active Calls')).toBe('active calls');
    expect(metricOf(binding, 'Registered OpenSIPS Users')).toBe('Registered OpenSIPS Users');
  });

  it('renders the destination and refuses one that is not a SIP URI', () => {
    const binding = { loadBalancerId: 'l', setId: 3, uriTemplate: 'sip:{{fixedIp}}:5070', attrs: 'weight=50;duid={{vmName}}', drainMetric: null, drainTimeoutSeconds: 60, drainAction: DrainAction.ABORT };
    expect(renderDestination(binding, values)).toEqual({ setId: 3, uri: 'sip:127.0.12.10:5070', attrs: 'weight=50;duid=opensips-1-clone' });
    const spaced = { ...binding, uriTemplate: 'sip:{{vmName}}' };
    expect(() => renderDestination(spaced, { ...values, vmName: 'a b' })).toThrow(/not a SIP URI/);
  });
});
