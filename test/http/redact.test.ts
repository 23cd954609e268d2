/** Problem documents never carry local file paths; URL paths and JSON pointers stay as they are. */
import { describe, expect, it } from 'vitest';
import { pathRedactor, redactProblem } from '../../src/http/redact.js';

describe('problem documents without local paths', () => {
  const cut = pathRedactor(['/srv/truc/data', 'profiles']);
  it('cuts paths under the platform folders, the working folder and the usual roots to their last element', () => {
    expect(cut('no vector folder /srv/truc/data/vectors/x')).toBe('no vector folder …/x');
    expect(cut(`ENOENT: no such file or directory, open '/var/lib/truc/keys/ca.key'`)).toBe(`ENOENT: no such file or directory, open '…/ca.key'`);
    expect(cut(`cannot read ${process.cwd()}/profiles/tls-server.yaml: bad`)).toBe('cannot read …/tls-server.yaml: bad');
    expect(cut('C:\\Truc\\data\\kek.bin missing')).toBe('…/kek.bin missing');
    expect(cut('/home/officer/.truc/token')).toBe('…/token');
  });
  it('leaves URL paths, JSON pointers and words alone', () => {
    for (const s of ['no route GET /api/v1/nothing', 'body/data/0 must be string', 'http://ocsp.gov.vn/var/x', 'profiles are loaded', '/data/0 must be string'])
      expect(cut(s)).toBe(s);
  });
  it('applies to every string of a problem but its type, title, code and instance', () => {
    const p = redactProblem(
      { type: 'urn:truc:error:not_found', title: 'not found', status: 404, code: 'not_found', instance: '/api/v1/lab/runs', detail: 'no vector folder /srv/truc/data/v', dir: '/srv/truc/data/v', nested: { files: ['/tmp/a/b.pdf'] } },
      cut,
    );
    expect(p).toMatchObject({ instance: '/api/v1/lab/runs', detail: 'no vector folder …/v', dir: '…/v', nested: { files: ['…/b.pdf'] } });
  });
});
