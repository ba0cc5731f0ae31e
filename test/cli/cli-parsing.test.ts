import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../packages/sdk/src/cli/args.js';
import { COMMANDS, GROUPS } from '../../packages/sdk/src/cli/commands/index.js';
import type { Io } from '../../packages/sdk/src/cli/io.js';
import { runCli } from '../../packages/sdk/src/cli/main.js';
import { clientVersion, parseEndTime, parseRelease, parseRule } from '../../packages/sdk/src/cli/release-options.js';
import { UsageError } from '../../packages/sdk/src/cli/usage-error.js';

function memoryIo(env: Record<string, string> = {}): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    env,
    cwd: process.cwd(),
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    out: () => out,
    err: () => err,
  };
}

describe('help', () => {
  it('every command answers --help with its usage and examples, exit 0', async () => {
    for (const c of COMMANDS) {
      const io = memoryIo();
      expect(await runCli([...c.path, '--help'], io), c.path.join(' ')).toBe(0);
      expect(io.out()).toContain(`Usage: mcube ${c.path.join(' ')}`);
      expect(io.out()).toMatch(/Examples:\n {2}mcube /);
      // every declared example is printed
      for (const ex of c.examples) expect(io.out()).toContain(ex);
    }
  });

  it('groups, "help <command>" and the top level have help too', async () => {
    for (const g of Object.keys(GROUPS)) {
      const io = memoryIo();
      expect(await runCli([g, '--help'], io)).toBe(0);
      expect(io.out()).toContain(`mcube ${g}: `);
    }
    const io = memoryIo();
    expect(await runCli(['help', 'nebula', 'publish'], io)).toBe(0);
    expect(io.out()).toContain('--gray-window <end>,<users>');
    const top = memoryIo();
    expect(await runCli([], top)).toBe(0);
    expect(top.out()).toContain('Exit codes:');
  });

  it('a group without its command is a usage error that lists the commands', async () => {
    const io = memoryIo();
    expect(await runCli(['task'], io)).toBe(2);
    expect(io.err()).toContain('mcube task pause <taskId>');
  });
});

describe('argument parsing', () => {
  const specs = [
    { name: 'h5-id', value: '<id>', help: '' },
    { name: 'rule', value: '<r>', multi: true, help: '' },
    { name: 'json', help: '' },
  ];

  it('takes --name value, --name=value, flags, repeated options and --', () => {
    const p = parseArgs(['x', '--h5-id=12345678', '--rule', 'a', '--json', '--rule', 'b', '--', '--not-an-option'], specs, []);
    expect(p.values).toEqual({ 'h5-id': '12345678', rule: ['a', 'b'], json: true });
    expect(p.positionals).toEqual(['x', '--not-an-option']);
  });

  it('refuses unknown options, missing values, values on flags and repeats', () => {
    expect(() => parseArgs(['--nope'], specs, [])).toThrow(UsageError);
    expect(() => parseArgs(['--h5-id'], specs, [])).toThrow(/needs a value/);
    expect(() => parseArgs(['--json=1'], specs, [])).toThrow(/takes no value/);
    expect(() => parseArgs(['--h5-id', '1', '--h5-id', '2'], specs, [])).toThrow(/more than once/);
  });

  it('collects --Param value pairs for mcube api', () => {
    const p = parseArgs(['--H5Id', '12345678', '--PageSize=5', '--json'], specs, [], true);
    expect(p.unknown).toEqual([
      ['H5Id', '12345678'],
      ['PageSize', '5'],
    ]);
    expect(p.values.json).toBe(true);
  });
});

describe('release options', () => {
  const now = Date.UTC(2025, 0, 1, 0, 0, 0);

  it('reads the release kind, one at a time', () => {
    expect(parseRelease({ official: true }, now, [])).toEqual({ type: 'official' });
    expect(parseRelease({ whitelist: '17, 18' }, now, [])).toEqual({ type: 'whitelist', whitelistIds: ['17', '18'] });
    expect(parseRelease({ window: '+2d,1000' }, now, [])).toEqual({ type: 'window', endTime: new Date(now + 2 * 86_400_000), users: 1000 });
    expect(parseRelease({ window: '2025-01-03 10:00:00,5' }, now, [])).toEqual({ type: 'window', endTime: '2025-01-03 10:00:00', users: 5 });
    expect(parseRelease({ percent: '10' }, now, [])).toEqual({ type: 'percent', percent: 10 });
    expect(() => parseRelease({}, now, [])).toThrow(/choose the release kind/);
    expect(() => parseRelease({ official: true, percent: '5' }, now, [])).toThrow(/not --official and --gray-percent/);
    expect(() => parseRelease({ window: 'tomorrow' }, now, [])).toThrow(UsageError);
    expect(() => parseRelease({ whitelist: 'beta' }, now, [])).toThrow(UsageError);
  });

  it('reads advanced rules with short element and operation names', () => {
    expect(parseRule('city:include:Shanghai,Beijing', [])).toEqual({ ruleElement: 'city', operation: 'include', value: 'Shanghai,Beijing' });
    expect(parseRule('os:within:9.0-12.1', [])).toEqual({ ruleElement: 'osVersion', operation: 'within', value: '9.0-12.1' });
    expect(parseRule('model:exclude:VIVO X5M', [])).toEqual({ ruleElement: 'mobileModel', operation: 'exclude', value: 'VIVO X5M' });
    expect(() => parseRule('planet:include:Mars', [])).toThrow(UsageError);
  });

  it('expands a bare client version per platform', () => {
    expect(clientVersion('1.0.0', 'all')).toBe('1.0.0;1.0.0');
    expect(clientVersion('2.0', 'Android')).toBe(';2.0');
    expect(clientVersion('2.0', 'iOS')).toBe('2.0;');
    expect(clientVersion('1.0;2.0', 'all')).toBe('1.0;2.0');
    expect(clientVersion(undefined, 'all')).toBeUndefined();
    expect(parseEndTime('2025-02-01T08:00:00+08:00', now, [])).toEqual(new Date('2025-02-01T00:00:00Z'));
    // without a zone: the server's wire zone, as "yyyy-MM-dd HH:mm:ss" is, never this machine's TZ
    expect(parseEndTime('2025-02-01T08:00:00', now, [])).toBe('2025-02-01 08:00:00');
    expect(parseEndTime('2025-02-01 08:00', now, [])).toBe('2025-02-01 08:00:00');
    expect(parseEndTime('2025-02-01T08:00', now, [])).toBe('2025-02-01 08:00:00');
  });
});
