import { describe, expect, it } from 'vitest';
import { isMemberService, parseClientHeader, parseMember, parseMessageService, parseServer, parseService, parseSubsystem, serviceText } from '../../src/exchange/ids.js';

describe('identifiers of the axis', () => {
  it('parses the X-Road text forms, each part checked', () => {
    expect(parseService('SERVICE:VN/GOV/000.00.00.G22/vanthu/getDocument/v1')).toEqual({
      instance: 'VN',
      memberClass: 'GOV',
      memberCode: '000.00.00.G22',
      subsystemCode: 'vanthu',
      serviceCode: 'getDocument',
      serviceVersion: 'v1',
    });
    expect(parseSubsystem('SUBSYSTEM:VN/PROV/000.00.31.H29/vanthu').subsystemCode).toBe('vanthu');
    expect(parseMember('MEMBER:VN/GOV/000.00.00.G22').memberCode).toBe('000.00.00.G22');
    expect(parseServer('SERVER:VN/GOV/000.00.00.G22/ss1').serverCode).toBe('ss1');
    expect(parseClientHeader(' VN/GOV/000.00.00.G22/vanthu ').instance).toBe('VN');
    expect(serviceText(parseService('SERVICE:VN/GOV/000.00.00.G22/vanthu/echo'))).toBe('SERVICE:VN/GOV/000.00.00.G22/vanthu/echo');
  });

  it('refuses bad identifiers every time they come, and a caller changing its copy changes nothing for the next', () => {
    for (let i = 0; i < 2; i++) {
      expect(() => parseService('SERVICE:VN/GOV/000.00.00.G22/van thu/echo')).toThrow(/white space/);
      expect(() => parseSubsystem('SUBSYSTEM:VN/GOV/000.00.00.G22')).toThrow(/4 parts/);
      expect(() => parseClientHeader('VN/GOV/000.00.00.G22/a%b')).toThrow(/character/);
      expect(() => parseMember('SUBSYSTEM:VN/GOV/x')).toThrow(/not a MEMBER/);
    }
    const a = parseSubsystem('SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu');
    a.subsystemCode = 'changed';
    const b = parseSubsystem('SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu');
    expect(b.subsystemCode).toBe('vanthu');
    expect(b).not.toBe(a);
  });

  it('stays correct past the cache bound', () => {
    for (let i = 0; i < 5000; i++) expect(parseSubsystem(`SUBSYSTEM:VN/GOV/000.00.00.G22/s${i}`).subsystemCode).toBe(`s${i}`);
    expect(parseSubsystem('SUBSYSTEM:VN/GOV/000.00.00.G22/s1').subsystemCode).toBe('s1');
  });

  it("reads a member's own service (operational monitoring) only on the message path, and only those", () => {
    const text = 'SERVICE:VN/GOV/000.00.00.G22/getSecurityServerHealthData';
    const s = parseMessageService(text);
    expect(s).toEqual({ instance: 'VN', memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: '', serviceCode: 'getSecurityServerHealthData' });
    expect(isMemberService(s)).toBe(true);
    expect(serviceText(s)).toBe(text);
    // what an operator registers or grants is a subsystem's: the member form is refused there, cached or not
    expect(() => parseService(text)).toThrow(/5–6 parts/);
    expect(() => parseMessageService('SERVICE:VN/GOV/000.00.00.G22/layDuLieu')).toThrow(/a member itself offers only getSecurityServerOperationalData, getSecurityServerHealthData, getSecurityServerMetrics/);
    // a subsystem's service is read as before
    expect(isMemberService(parseMessageService('SERVICE:VN/GOV/000.00.00.G22/vanthu/echo'))).toBe(false);
  });
});
