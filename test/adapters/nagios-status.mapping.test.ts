/** How statusjson.cgi's answers become samples, and what of `nagios -v` an error keeps. */
import { verifierSummary } from '../../src/adapters/nagios/nagios-config.configurator';
import { firstPerfValue, observedAtOf, sampleStateOf, servicesOf } from '../../src/adapters/nagios/nagios-status.mapping';
import { SampleState } from '../../src/domain/enums';

describe('sampleStateOf (statusjson status bitmask)', () => {
  it.each([
    [1, SampleState.UNKNOWN], // pending: never checked, so nothing is known
    [2, SampleState.OK],
    [4, SampleState.WARNING],
    [8, SampleState.UNKNOWN],
    [16, SampleState.CRITICAL],
  ])('maps %i to %s', (status, state) => {
    expect(sampleStateOf(status)).toBe(state);
  });

  it.each([0, 3, 6, 32, -1, 2.5, '2', 'ok', null, undefined, {}])('maps anything else (%p) to UNKNOWN, never to OK', (status) => {
    expect(sampleStateOf(status)).toBe(SampleState.UNKNOWN);
  });
});

describe('firstPerfValue', () => {
  it.each([
    ['load=95', 95],
    ['load=95;80;90;0;100', 95],
    ['load=95 users=3', 95],
    ['time=0.012s;1;2', 0.012],
    ['temp=-4.5C', -4.5],
    ['ratio=.5', 0.5],
    ['big=1e3', 1000],
    ["'active calls'=3c;;;", 3],
    ["'a=b c'=7", 7],
    ["'it''s'=5", 5],
    ['  leading=1', 1],
    ['size=12B', 12],
  ])('reads %p as %p', (perf, value) => {
    expect(firstPerfValue(perf)).toBe(value);
  });

  it.each(['', '   ', 'load=U', 'load=', 'no equals sign', '=5', "'unclosed=5", 'bad label=5', null, undefined, 42])('has no value in %p', (perf) => {
    expect(firstPerfValue(perf)).toBeNull();
  });
});

describe('observedAtOf', () => {
  it('reads last_check as epoch milliseconds; never checked is the epoch, never now', () => {
    expect(observedAtOf(1796160511000).toISOString()).toBe(new Date(1796160511000).toISOString());
    expect(observedAtOf(0).getTime()).toBe(0);
    expect(observedAtOf(undefined).getTime()).toBe(0);
    expect(observedAtOf('1796160511000').getTime()).toBe(0);
  });
});

describe('servicesOf', () => {
  it('flattens host -> service -> details into one status per service', () => {
    const data = {
      servicelist: {
        sip1: {
          'sip-load': { status: 16, last_check: 1796160511000, perf_data: 'load=97', plugin_output: 'CRITICAL - load 97\u001b[0m' },
          'active calls': { status: 1, last_check: 0, perf_data: '', plugin_output: 'Service is not scheduled to be checked...' },
        },
        sip2: {},
      },
    };
    expect(servicesOf(data)).toEqual([
      { host: 'sip1', service: 'sip-load', state: SampleState.CRITICAL, observedAt: new Date(1796160511000), value: 97, output: 'CRITICAL - load 97 [0m' },
      { host: 'sip1', service: 'active calls', state: SampleState.UNKNOWN, observedAt: new Date(0), value: null, output: 'Service is not scheduled to be checked...' },
    ]);
  });

  it.each([null, {}, { servicelist: [] }, { servicelist: { h: [] } }, { servicelist: 'x' }])('refuses a shape that is not a servicelist: %p', (data) => {
    expect(servicesOf(data)).toBeNull();
  });
});

describe('verifierSummary', () => {
  it('keeps the lines that name the problem', () => {
    const stdout = [
      'Nagios Core 4.4.6',
      'Reading configuration data...',
      "Error: Could not find any host matching 'nosuchhost' (config file '/etc/nagios4/conf.d/x.cfg', starting on line 1)",
      '   Error processing object config files!',
      '***> One or more problems was encountered while processing the config files...',
      'Total Warnings: 0',
      'Total Errors:   1',
    ].join('\n');
    expect(verifierSummary({ stdout, stderr: '', exitCode: 1 })).toBe(
      "Error: Could not find any host matching 'nosuchhost' (config file '/etc/nagios4/conf.d/x.cfg', starting on line 1) | Error processing object config files! | ***> One or more problems was encountered while processing the config files... | Total Warnings: 0 | Total Errors:   1",
    );
  });

  it('falls back to the last lines, and is bounded', () => {
    expect(verifierSummary({ stdout: '', stderr: 'sh: nagios4: not found\n', exitCode: 127 })).toBe('sh: nagios4: not found');
    expect(verifierSummary({ stdout: '', stderr: '', exitCode: 2 })).toBe('exit code 2, no output');
    expect(verifierSummary({ stdout: `Error: ${'x'.repeat(5000)}`, stderr: '', exitCode: 1 }).length).toBeLessThanOrEqual(1003);
  });
});
