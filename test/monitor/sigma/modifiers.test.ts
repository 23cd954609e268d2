/**
 * Every value modifier of Sigma v2.1, plain values, wildcards and escaping, null, keywords and field access:
 * each with events that must match and events that must not. `expectMatches` also checks that the literal
 * index agrees with plain evaluation on every event.
 */
import { describe, expect, it } from 'vitest';
import { Detector } from '../../../src/monitor/sigma/index.js';
import { detector, expectMatches, rule } from './helpers.js';

const raw = String.raw;

describe('plain values', () => {
  it('compares strings case-insensitively and numbers by their text', () => {
    expectMatches(
      raw`
selection:
    Image: 'C:\Windows\System32\whoami.exe'
    EventID: 1
condition: selection`,
      [
        { Image: 'c:\\windows\\system32\\WHOAMI.EXE', EventID: 1 },
        { Image: 'C:\\Windows\\System32\\whoami.exe', EventID: '1' },
      ],
      [
        { Image: 'C:\\Windows\\System32\\whoami.exe', EventID: 2 },
        { Image: 'C:\\whoami.exe', EventID: 1 },
        { EventID: 1 },
      ],
    );
  });

  it('ORs a list of values and ANDs the fields of a map', () => {
    expectMatches(
      `
selection:
    A: [x, y]
    B: z
condition: selection`,
      [
        { A: 'x', B: 'z' },
        { A: 'Y', B: 'Z' },
      ],
      [
        { A: 'x', B: 'q' },
        { A: 'w', B: 'z' },
      ],
    );
  });

  it('ORs a list of maps', () => {
    expectMatches(
      `
selection:
    - A: x
    - B: y
condition: selection`,
      [{ A: 'x' }, { B: 'y' }],
      [{ A: 'y' }, {}],
    );
  });

  it('matches any element of an array value (ECS multi-valued fields)', () => {
    expectMatches(
      `
selection:
    event.category: authentication
condition: selection`,
      [{ event: { category: ['iam', 'authentication'] } }],
      [{ event: { category: ['iam'] } }],
    );
  });

  it('treats an empty string as a value of its own', () => {
    expectMatches(
      `
selection:
    A: ''
condition: selection`,
      [{ A: '' }],
      [{ A: 'x' }, {}],
    );
  });
});

describe('wildcards and escaping', () => {
  it('* spans any run and ? exactly one character', () => {
    expectMatches(
      `
selection:
    Image: '*\\prog?.exe'
condition: selection`,
      [{ Image: 'C:\\tools\\progA.exe' }, { Image: 'D:\\x\\PROG1.EXE' }],
      [{ Image: 'C:\\tools\\prog.exe' }, { Image: 'C:\\tools\\progAB.exe' }],
    );
  });

  it('\\* and \\? are plain characters', () => {
    expectMatches(
      raw`
selection:
    A: 'a\*b\?'
condition: selection`,
      [{ A: 'a*b?' }],
      [{ A: 'axb?' }, { A: 'a*bc' }],
    );
  });

  it('a backslash before a wildcard is escaped by a second one; a lone backslash is itself', () => {
    expectMatches(
      raw`
selection:
    A: 'C:\Temp\\*'
condition: selection`,
      [{ A: 'C:\\Temp\\anything' }, { A: 'C:\\Temp\\' }],
      [{ A: 'C:\\Temp' }, { A: 'C:\\Tempx' }],
    );
    // Three backslashes: a plain backslash then a plain star.
    expectMatches(
      raw`
selection:
    A: 'x\\\*'
condition: selection`,
      [{ A: 'x\\*' }],
      [{ A: 'x\\y' }],
    );
  });
});

describe('generic modifiers', () => {
  it('contains', () => {
    expectMatches(
      `
selection:
    CommandLine|contains: ' -EncodedCommand '
condition: selection`,
      [{ CommandLine: 'powershell.exe -encodedcommand AAAA' }],
      [{ CommandLine: 'powershell.exe -enc AAAA' }],
    );
  });

  it('startswith and endswith', () => {
    expectMatches(
      raw`
selection:
    Image|endswith: '\cmd.exe'
    CurrentDirectory|startswith: 'C:\Users\'
condition: selection`,
      [{ Image: 'C:\\Windows\\System32\\CMD.exe', CurrentDirectory: 'c:\\users\\bob\\' }],
      [
        { Image: 'C:\\Windows\\System32\\cmd.exe.bak', CurrentDirectory: 'C:\\Users\\bob' },
        { Image: 'C:\\Windows\\System32\\cmd.exe', CurrentDirectory: 'D:\\C:\\Users\\' },
      ],
    );
  });

  it('all: every value must be present', () => {
    expectMatches(
      `
selection:
    CommandLine|contains|all:
        - 'net '
        - ' user '
        - ' /add'
condition: selection`,
      [{ CommandLine: 'net user bob secret /add' }],
      [{ CommandLine: 'net user bob' }, { CommandLine: 'net localgroup x /add' }],
    );
  });

  it('all needs at least two values', () => {
    const d = new Detector([
      rule(`
selection:
    A|all: x
condition: selection`),
    ]);
    expect(d.rejected[0]?.reason).toMatch(/all needs a list/);
  });

  it('cased: exact case only', () => {
    expectMatches(
      `
selection:
    A|cased: 'MiXeD'
condition: selection`,
      [{ A: 'MiXeD' }],
      [{ A: 'mixed' }, { A: 'MIXED' }],
    );
    expectMatches(
      `
selection:
    A|contains|cased: 'Evil'
condition: selection`,
      [{ A: 'so Evil here' }],
      [{ A: 'so evil here' }],
    );
  });

  it('neq: present and different from every value', () => {
    expectMatches(
      `
selection:
    Status|neq:
        - ok
        - fine
condition: selection`,
      [{ Status: 'failed' }, { Status: 3 }],
      [{ Status: 'OK' }, { Status: 'fine' }, {}, { Status: null }],
    );
  });

  it('exists: true and false', () => {
    expectMatches(
      `
selection:
    PasswordLastSet|exists: true
condition: selection`,
      [{ PasswordLastSet: '' }, { PasswordLastSet: null }, { PasswordLastSet: 'x' }],
      [{ Other: 1 }],
    );
    expectMatches(
      `
selection:
    PasswordLastSet|exists: false
condition: selection`,
      [{ Other: 1 }],
      [{ PasswordLastSet: '' }],
    );
  });

  it('null: the field is absent or null', () => {
    expectMatches(
      `
selection:
    A: x
filter:
    PasswordLastSet: null
condition: selection and not filter`,
      [
        { A: 'x', PasswordLastSet: '2024-01-01' },
        { A: 'x', PasswordLastSet: '' },
      ],
      [{ A: 'x' }, { A: 'x', PasswordLastSet: null }],
    );
  });
});

describe('regular expressions', () => {
  it('re is case-sensitive and unanchored', () => {
    expectMatches(
      String.raw`
selection:
    CommandLine|re: 'cmd(\.exe)? /c'
condition: selection`,
      [{ CommandLine: 'x cmd.exe /c whoami' }, { CommandLine: 'cmd /c dir' }],
      [{ CommandLine: 'CMD /c dir' }, { CommandLine: 'cmd /k dir' }],
    );
  });

  it('re|i is case-insensitive', () => {
    expectMatches(
      `
selection:
    CommandLine|re|i: 'invoke-(expression|webrequest)'
condition: selection`,
      [{ CommandLine: 'Invoke-WebRequest http://x' }, { CommandLine: 'INVOKE-EXPRESSION $a' }],
      [{ CommandLine: 'Invoke-Command' }],
    );
  });

  it('re|m anchors at lines, re|s lets . match newlines', () => {
    expectMatches(
      `
selection:
    Data|re|m: '^evil$'
condition: selection`,
      [{ Data: 'good\nevil\nmore' }],
      [{ Data: 'good evil more' }],
    );
    expectMatches(
      `
selection:
    Data|re|s: 'begin.+end'
condition: selection`,
      [{ Data: 'begin\nmiddle\nend' }],
      [{ Data: 'end before begin' }],
    );
    expectMatches(
      `
selection:
    Data|re: 'begin.+end'
condition: selection`,
      [{ Data: 'begin middle end' }],
      [{ Data: 'begin\nmiddle\nend' }],
    );
  });

  it('accepts a leading PCRE inline flag', () => {
    expectMatches(
      `
selection:
    A|re: '(?i)^abc'
condition: selection`,
      [{ A: 'ABCdef' }],
      [{ A: 'xabc' }],
    );
  });

  it('rejects an invalid regular expression', () => {
    const d = new Detector([
      rule(`
selection:
    A|re: '(unclosed'
condition: selection`),
    ]);
    expect(d.rules).toHaveLength(0);
    expect(d.rejected[0]?.reason).toMatch(/invalid regular expression/);
  });
});

describe('cidr', () => {
  it('matches IPv4 networks', () => {
    expectMatches(
      `
selection:
    DestinationIp|cidr:
        - 10.0.0.0/8
        - 192.168.1.0/24
condition: selection`,
      [{ DestinationIp: '10.200.3.4' }, { DestinationIp: '192.168.1.255' }],
      [
        { DestinationIp: '11.0.0.1' },
        { DestinationIp: '192.168.2.1' },
        { DestinationIp: 'not an ip' },
        { DestinationIp: '2001:db8::1' },
      ],
    );
  });

  it('matches IPv6 networks, including compressed and v4-suffixed forms', () => {
    expectMatches(
      `
selection:
    SourceIp|cidr: '2001:db8::/32'
condition: selection`,
      [
        { SourceIp: '2001:db8::1' },
        { SourceIp: '2001:0DB8:0000:0001:0000:0000:0000:0005' },
        { SourceIp: '2001:db8::10.0.0.1' },
      ],
      [{ SourceIp: '2001:db9::1' }, { SourceIp: '10.0.0.1' }, { SourceIp: '::1' }],
    );
    expectMatches(
      `
selection:
    SourceIp|cidr: 'fe80::/10'
condition: selection`,
      [{ SourceIp: 'fe80::1%eth0' }, { SourceIp: 'febf::1' }],
      [{ SourceIp: 'fec0::1' }],
    );
  });

  it('rejects a malformed network', () => {
    const d = new Detector([
      rule(`
selection:
    A|cidr: 10.0.0.0/33
condition: selection`),
    ]);
    expect(d.rejected[0]?.reason).toMatch(/cidr/);
  });
});

describe('encoding modifiers', () => {
  const b64 = (s: string, enc: BufferEncoding = 'utf8'): string => Buffer.from(s, enc).toString('base64');

  it('base64: the whole value encoded', () => {
    expectMatches(
      `
selection:
    Payload|base64: 'secret'
condition: selection`,
      [{ Payload: b64('secret') }],
      [{ Payload: b64('secrets') }, { Payload: 'secret' }],
    );
    expectMatches(
      `
selection:
    Payload|base64|contains: 'abc'
condition: selection`,
      [{ Payload: `xx ${b64('abc')} yy` }],
      [{ Payload: b64('xabc') }],
    );
  });

  it('base64offset: finds the value at any byte offset inside an encoded text', () => {
    const d = detector(`
selection:
    CommandLine|base64offset|contains: 'http://'
condition: selection`);
    const ls = { product: 'test', categories: [], services: [] };
    for (const prefix of ['', 'a', 'ab', 'abc', 'GET ', 'curl x ']) {
      const text = `${prefix}http://evil.example/`;
      expect(d.match({ CommandLine: `powershell -e ${b64(text)}` }, ls), prefix).toHaveLength(1);
    }
    expect(d.match({ CommandLine: `powershell -e ${b64('ftp://evil.example/')}` }, ls)).toHaveLength(0);
  });

  it('utf16le / wide with base64offset: PowerShell -EncodedCommand', () => {
    for (const mod of ['utf16le', 'wide']) {
      const d = detector(`
selection:
    CommandLine|${mod}|base64offset|contains: 'Invoke-Mimikatz'
condition: selection`);
      const ls = { product: 'test', categories: [], services: [] };
      for (const prefix of ['', 'x', 'IEX; ']) {
        const cmd = `powershell -enc ${b64(`${prefix}Invoke-Mimikatz -DumpCreds`, 'utf16le')}`;
        expect(d.match({ CommandLine: cmd }, ls), `${mod} ${prefix}`).toHaveLength(1);
      }
      // The UTF-8 encoding of the same text is not the UTF-16 one.
      expect(d.match({ CommandLine: `powershell -enc ${b64('Invoke-Mimikatz')}` }, ls)).toHaveLength(0);
    }
  });

  it('utf16le, utf16be and utf16 (with byte order mark) transform the value itself', () => {
    expectMatches(
      `
selection:
    Data|utf16le|contains: 'cmd'
condition: selection`,
      [{ Data: 'xx c\u0000m\u0000d\u0000 yy' }],
      [{ Data: 'cmd' }, { Data: '\u0000c\u0000m\u0000d' }],
    );
    expectMatches(
      `
selection:
    Data|utf16be|contains: 'cmd'
condition: selection`,
      [{ Data: '\u0000c\u0000m\u0000d' }],
      [{ Data: 'c\u0000m\u0000d\u0000' }],
    );
    expectMatches(
      `
selection:
    Data|utf16|base64: 'cmd'
condition: selection`,
      [{ Data: Buffer.from([0xff, 0xfe, 0x63, 0, 0x6d, 0, 0x64, 0]).toString('base64') }],
      [{ Data: b64('cmd', 'utf16le') }],
    );
  });

  it('windash: -, /, en dash, em dash and horizontal bar are interchangeable before a flag', () => {
    expectMatches(
      `
selection:
    CommandLine|windash|contains: ' -exec bypass'
condition: selection`,
      [
        { CommandLine: 'powershell -exec bypass' },
        { CommandLine: 'powershell /exec bypass' },
        { CommandLine: 'powershell \u2013exec bypass' },
        { CommandLine: 'powershell \u2014exec bypass' },
        { CommandLine: 'powershell \u2015exec bypass' },
      ],
      [{ CommandLine: 'powershell exec bypass' }, { CommandLine: 'powershell +exec bypass' }],
    );
  });
});

describe('numeric modifiers', () => {
  it('lt, lte, gt, gte on numbers and numeric strings', () => {
    const cases: [string, unknown[], unknown[]][] = [
      ['lt', [9, '9.5', -1], [10, 11, 'ten']],
      ['lte', [10, '10'], [10.5]],
      ['gt', [11, '10.01'], [10, 'x']],
      ['gte', [10, 100], [9.99]],
    ];
    for (const [op, yes, no] of cases) {
      expectMatches(
        `
selection:
    Size|${op}: 10
condition: selection`,
        yes.map((v) => ({ Size: v })),
        [...no.map((v) => ({ Size: v })), {}],
      );
    }
  });
});

describe('time modifiers', () => {
  const t = (s: string) => ({ UtcTime: s });
  it('minute, hour, day, month, year read the date as written', () => {
    const d = (mod: string, v: number) => `
selection:
    UtcTime|${mod}: ${v}
condition: selection`;
    expectMatches(d('minute', 40), [t('2025-11-27 07:40:10.132')], [t('2025-11-27 07:41:10.132')]);
    expectMatches(
      d('hour', 7),
      [t('2025-11-27 07:40:10.132'), t('2025-11-27T07:00:00Z')],
      [t('2025-11-27 17:40:10')],
    );
    expectMatches(d('day', 27), [t('2025-11-27 07:40:10')], [t('2025-11-28 07:40:10')]);
    expectMatches(d('month', 11), [t('2025-11-27')], [t('2025-12-27')]);
    expectMatches(d('year', 2025), [t('2025-11-27')], [t('2024-11-27'), t('garbage')]);
  });

  it('week is the ISO week number', () => {
    expectMatches(
      `
selection:
    UtcTime|week: 1
condition: selection`,
      [t('2024-01-01 10:00:00'), t('2021-01-05 10:00:00')],
      // 2020-12-31 falls in ISO week 53 of 2020.
      [t('2024-01-08 10:00:00'), t('2020-12-31 10:00:00')],
    );
  });

  it('combine with a comparison: outside office hours', () => {
    expectMatches(
      `
late:
    UtcTime|hour|gte: 22
early:
    UtcTime|hour|lt: 6
condition: late or early`,
      [t('2025-01-01 23:10:00'), t('2025-01-01 05:59:00')],
      [t('2025-01-01 12:00:00'), t('2025-01-01 06:00:00')],
    );
  });
});

describe('fieldref', () => {
  it('compares two fields of the same event', () => {
    expectMatches(
      `
selection:
    TargetFilename|fieldref: Image
condition: selection`,
      [{ TargetFilename: 'C:\\x.exe', Image: 'c:\\X.EXE' }],
      [{ TargetFilename: 'C:\\x.exe', Image: 'C:\\y.exe' }, { TargetFilename: 'C:\\x.exe' }],
    );
  });

  it('with neq: the fields differ', () => {
    expectMatches(
      `
selection:
    User|fieldref|neq: ParentUser
condition: selection`,
      [{ User: 'alice', ParentUser: 'bob' }],
      [{ User: 'alice', ParentUser: 'ALICE' }],
    );
  });
});

describe('expand (placeholders)', () => {
  it('expands placeholders from the supplied map, values may hold wildcards', () => {
    expectMatches(
      `
selection:
    User|expand: '%Administrators%'
condition: selection`,
      [{ User: 'adm_bob' }, { User: 'ROOT' }],
      [{ User: 'bob' }, { User: '%Administrators%' }],
      { placeholders: { Administrators: ['adm_*', 'root'] } },
    );
  });

  it('keeps escaped percent signs plain and expands inside a longer value', () => {
    expectMatches(
      String.raw`
selection:
    Host|expand: '\%plain%Servers%.corp'
condition: selection`,
      [{ Host: '%plainsrv1.corp' }],
      [{ Host: 'srv1.corp' }],
      { placeholders: { Servers: ['srv1', 'srv2'] } },
    );
  });

  it('rejects a rule whose placeholders cannot be expanded', () => {
    const d = new Detector([
      rule(`
selection:
    User|expand: '%Administrators%'
condition: selection`),
    ]);
    expect(d.rules).toHaveLength(0);
    expect(d.rejected[0]?.reason).toMatch(/placeholder %Administrators% has no value/);
  });

  it('without expand, %name% is a literal value', () => {
    expectMatches(
      `
selection:
    User: '%Administrators%'
condition: selection`,
      [{ User: '%administrators%' }],
      [{ User: 'root' }],
    );
  });
});

describe('keyword searches', () => {
  it('a list of strings searches every scalar of the event', () => {
    expectMatches(
      `
keywords:
    - 'event::clear'
    - 'event::drop'
condition: keywords`,
      [{ message: 'mimikatz # EVENT::Clear' }, { deep: { nested: ['x', 'privilege event::drop'] } }],
      [{ message: 'event clear' }],
    );
  });

  it("'|all' requires every keyword", () => {
    expectMatches(
      `
keywords:
    '|all':
        - 'OabVirtualDirectory'
        - ' -ExternalUrl '
condition: keywords`,
      [{ a: 'Set-OabVirtualDirectory', b: 'x -ExternalUrl http://y' }],
      [{ a: 'Set-OabVirtualDirectory' }],
    );
  });
});

describe('unknown modifiers', () => {
  it('reject the rule', () => {
    const d = new Detector([
      rule(`
selection:
    A|sometimes: x
condition: selection`),
    ]);
    expect(d.rejected[0]?.reason).toMatch(/unknown modifier sometimes/);
  });
});
