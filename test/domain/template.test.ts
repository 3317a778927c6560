/** The template language: syntax, the closed variable set, typed values, and hostile values rendered literally. */
import {
  checkTemplate,
  isIpAddress,
  isRfc1123Hostname,
  parseTemplate,
  renderTemplate,
  TemplateError,
  TemplateRenderError,
  TemplateValues,
  variablesOf,
} from '../../src/domain/template';
import { vmTemplateValues } from '../../src/domain/template-values';

const values: TemplateValues = {
  fixedIp: '10.0.0.5',
  floatingIp: '203.0.113.7',
  publicIp: '203.0.113.7',
  sourceFixedIp: '10.0.0.4',
  hostname: 'opensips-2',
  cloudName: 'partner',
  vmName: 'opensips-2',
  vmId: '0b5e9a5c-0000-4000-8000-000000000001',
  vmTypeName: 'opensips',
  jobId: '0b5e9a5c-0000-4000-8000-000000000002',
};

function error<E extends Error>(fn: () => unknown, type: new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('template syntax', () => {
  it('replaces placeholders, with or without spaces inside the braces, and keeps everything else', () => {
    const text = 'listen=udp:{{fixedIp}}:5060\nadvertised_address={{ publicIp }}\n# {{\tvmName\t}} in {{cloudName}}\n';
    expect(renderTemplate(text, values, 'recipe')).toBe('listen=udp:10.0.0.5:5060\nadvertised_address=203.0.113.7\n# opensips-2 in partner\n');
  });

  it('writes a literal {{ for \\{{ and copies lone braces and backslashes', () => {
    expect(renderTemplate('a \\{{fixedIp}} b }} c \\ d {x} {{fixedIp}}', values, 'recipe')).toBe('a {{fixedIp}} b }} c \\ d {x} 10.0.0.5');
  });

  it('lists the variables a template uses, once each', () => {
    expect(variablesOf('{{fixedIp}} {{vmName}} {{fixedIp}}')).toEqual(['fixedIp', 'vmName']);
    expect(parseTemplate('')).toEqual([]);
  });

  it.each([
    ['{{fixedIp', 'line 1, column 1'],
    ['ok\n  {{ fixed Ip }}', 'line 2, column 3'],
    ['{{}}', 'malformed'],
    ['{{1abc}}', 'malformed'],
    ['{{vm-name}}', 'malformed'],
    ['{{vmName | upper}}', 'malformed'],
    ['{{> partial}}', 'malformed'],
    ['{{#each x}}{{/each}}', 'malformed'],
    ['{{{fixedIp}}}', 'malformed'],
    ['{{constructor.constructor("return process")()}}', 'malformed'],
  ])('refuses the malformed template %j (%s)', (text, message) => {
    const err = error(() => checkTemplate(text, 'recipe'), TemplateError);
    expect(err.message).toContain(message);
  });

  it('refuses an unknown variable, naming it and the ones that exist', () => {
    const err = error(() => checkTemplate('ip={{ip}}', 'recipe'), TemplateError);
    expect(err.variable).toBe('ip');
    expect(err.message).toMatch(/unknown variable "ip" at line 1, column 4; the variables are: fixedIp, floatingIp/);
  });

  it('refuses names that look like object properties: the variable set is closed', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(error(() => checkTemplate(`{{${name}}}`, 'recipe'), TemplateError).variable).toBe(name);
    }
  });

  it('allows hostName only in the Nagios host template', () => {
    expect(() => checkTemplate('host_name {{hostName}}', 'nagiosHost')).not.toThrow();
    const err = error(() => checkTemplate('{{hostName}}', 'nagiosHostName'), TemplateError);
    expect(err.message).toContain('"hostName" at line 1, column 1 cannot be used here');
  });
});

describe('template values', () => {
  it('renders hostile text literally into file content: quotes, $(), backticks and ; are just characters', () => {
    const hostile = `x"; $(touch /tmp/pwned) \`id\` '; rm -rf / ; {{fixedIp}} \\{{ %s`;
    const rendered = renderTemplate('# {{vmName}}\nname="{{vmName}}"\n', { vmName: hostile, fixedIp: '10.0.0.1' }, 'recipe');
    expect(rendered).toBe(`# ${hostile}\nname="${hostile}"\n`);
  });

  it('refuses at render a vmName with a newline or other control character (it could add lines to a configuration)', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\u0000b', 'a\u2028b', '']) {
      const err = error(() => renderTemplate('{{vmName}}', { vmName: bad }, 'recipe'), TemplateRenderError);
      expect(err.variable).toBe('vmName');
    }
  });

  it.each(['not-an-ip', '10.0.0.1; reboot', '$(reboot)', '127.1', '0x7f.0.0.1', '010.0.0.1', '10.0.0.1\n', 'fe80::1%eth0', '::ffff:127.1', ' 10.0.0.1'])(
    'refuses %j where an IP is expected',
    (bad) => {
      const err = error(() => renderTemplate('listen={{fixedIp}}', { ...values, fixedIp: bad }, 'recipe'), TemplateRenderError);
      expect(err.variable).toBe('fixedIp');
      expect(err.message).toContain('is not an IP address');
    },
  );

  it('accepts IPv4 and IPv6 addresses', () => {
    for (const ip of ['127.0.0.1', '203.0.113.7', '::1', '2001:db8::5', '::ffff:192.0.2.1']) expect(isIpAddress(ip)).toBe(true);
  });

  it('checks host names per RFC 1123', () => {
    for (const ok of ['opensips-2', 'a', '1host', 'sip.example.net', `${'a'.repeat(63)}.b`]) expect(isRfc1123Hostname(ok)).toBe(true);
    for (const bad of ['', '-a', 'a-', 'a_b', 'a..b', 'a b', 'a;b', '127.1', '2130706433', '10.0.0.1', 'host.123', `${'a'.repeat(64)}`, 'Ünï', 'a.'.repeat(130)]) expect(isRfc1123Hostname(bad)).toBe(false);
    const err = error(() => renderTemplate('{{hostname}}', { hostname: 'sip server;1' }, 'recipe'), TemplateRenderError);
    expect(err.message).toContain('RFC 1123');
  });

  it('says which variable has no value for the VM', () => {
    const err = error(() => renderTemplate('{{floatingIp}}', { ...values, floatingIp: null }, 'recipe'), TemplateRenderError);
    expect(err.variable).toBe('floatingIp');
    expect(err.message).toContain('floatingIp has no value for this VM');
  });

  it('builds a VM\'s values: IPv4 first, floating over fixed for publicIp, the source\'s address for a clone', () => {
    const vm = {
      id: values.vmId!,
      name: 'Opensips-2',
      cloneJobId: values.jobId!,
      addresses: [
        { address: '2001:db8::5', kind: 'fixed', version: 6 },
        { address: '10.0.0.5', kind: 'fixed', version: 4 },
      ],
    };
    expect(vmTemplateValues({ vm, cloudName: 'partner', vmTypeName: 'opensips', sourceVm: { addresses: [{ address: '10.1.0.4', kind: 'fixed', version: 4 }] } })).toEqual({
      fixedIp: '10.0.0.5',
      floatingIp: null,
      publicIp: '10.0.0.5',
      sourceFixedIp: '10.1.0.4',
      hostname: 'opensips-2',
      cloudName: 'partner',
      vmName: 'Opensips-2',
      vmId: values.vmId,
      vmTypeName: 'opensips',
      jobId: values.jobId,
    });
    const floating = vmTemplateValues({ vm: { ...vm, addresses: [...vm.addresses, { address: '203.0.113.7', kind: 'floating', version: 4 }] }, cloudName: 'c', vmTypeName: 't' });
    expect(floating).toMatchObject({ publicIp: '203.0.113.7', floatingIp: '203.0.113.7', sourceFixedIp: '10.0.0.5' });
  });
});
