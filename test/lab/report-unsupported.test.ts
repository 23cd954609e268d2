import { describe, expect, it } from 'vitest';
import { buildReport, loadVectorDir, nodeCryptoProduct, renderHtml, runSuite, type ProductAdapter } from '../../src/lab/index.js';
import { labCannotAsk, unsupported } from '../../src/lab/product.js';
import { sharedMissing, VECTORS } from './shared.js';

describe.skipIf(sharedMissing)('report: UNSUPPORTED split by who lacks it', () => {
  it('"the product does not do this" and "the lab cannot ask" are counted apart, with their reasons', async () => {
    const files = await loadVectorDir(VECTORS, (n) => /^(aes_gcm|aes_ccm|hmac_sha256)_test/.test(n));
    const node = nodeCryptoProduct();
    const partial: ProductAdapter = {
      ...node,
      info: { name: 'partial', version: '1', adapter: 'test' },
      async aeadDecrypt(p) {
        if (p.alg === 'AES-CCM') throw unsupported('AES-CCM');
        if (p.alg === 'AES-GCM') throw labCannotAsk('AES-GCM over this interface');
        return node.aeadDecrypt!(p);
      },
      async aeadEncrypt(p) {
        if (p.alg === 'AES-CCM') throw unsupported('AES-CCM');
        if (p.alg === 'AES-GCM') throw labCannotAsk('AES-GCM over this interface');
        return node.aeadEncrypt!(p);
      },
    };
    const report = buildReport({ run: await runSuite(partial, files) });
    const suite = (f: string) => report.suites.find((s) => s.file.startsWith(f))!;
    const ccm = suite('aes_ccm');
    const gcm = suite('aes_gcm');
    expect(ccm.counts.UNSUPPORTED).toBeGreaterThan(0);
    expect(ccm.unsupported).toEqual([{ by: 'product', reason: 'unsupported: AES-CCM', count: ccm.counts.UNSUPPORTED }]);
    expect(gcm.unsupported).toEqual([{ by: 'lab', reason: 'lab cannot ask: AES-GCM over this interface', count: gcm.counts.UNSUPPORTED }]);
    expect(suite('hmac_sha256').unsupported).toBeUndefined();
    const html = renderHtml(report);
    expect(html).toContain(`${gcm.counts.UNSUPPORTED} phòng thử nghiệm không hỏi được / lab cannot ask`);
    expect(html).toContain(`${ccm.counts.UNSUPPORTED} sản phẩm không hỗ trợ / product lacks`);
  }, 60_000);
});
