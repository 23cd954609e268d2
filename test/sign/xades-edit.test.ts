/**
 * XML edited in place (`src/sign/xades/edit.ts`), without signing: elements added to the DOM come out spliced into
 * the input as it was written — comments, CDATA, a `>` inside an attribute value, `&#13;`, an empty-element tag that
 * gets children — in the input's encoding, a character the encoding lacks as a character reference, the byte-order
 * mark kept; a namespace an ancestor declares is not declared again.
 */
import { describe, it, expect } from 'vitest';
import { editXml } from '../../src/sign/xades/edit.js';

const NS = 'urn:x';

describe('editXml', () => {
  it('text: new elements where the DOM has them, everything else as written', () => {
    const input = '<?xml version="1.0"?>\n<!-- <not/> -->\n<r xmlns:x="urn:x"><x:a k="1>2"><![CDATA[<b/>]]></x:a>a&#13;b<x:e/><z/></r>\n';
    const e = editXml(input);
    const [a, ee] = ['a', 'e'].map((n) => e.doc.getElementsByTagNameNS(NS, n)[0]!);
    const z = e.doc.getElementsByTagName('z')[0]!;
    a.appendChild(e.doc.createElementNS(NS, 'x:first'));
    ee.appendChild(e.doc.createElementNS(NS, 'x:inside')).appendChild(e.doc.createTextNode('1 < 2'));
    e.doc.documentElement.insertBefore(e.doc.createElementNS(NS, 'x:beforeZ'), z);
    e.doc.documentElement.appendChild(e.doc.createElementNS('urn:y', 'y:last'));
    expect(e.output()).toBe(
      '<?xml version="1.0"?>\n<!-- <not/> -->\n<r xmlns:x="urn:x"><x:a k="1>2"><![CDATA[<b/>]]><x:first/></x:a>a&#13;b<x:e><x:inside>1 &lt; 2</x:inside></x:e><x:beforeZ/><z/><y:last xmlns:y="urn:y"/></r>\n',
    );
  });

  it('bytes: ISO-8859-1 with character references for what it cannot write; UTF-16BE with its mark', () => {
    const latin = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><r>Ærø</r>', 'latin1');
    const e = editXml(latin);
    e.doc.documentElement.appendChild(e.doc.createElement('n')).appendChild(e.doc.createTextNode('Trục é'));
    expect(e.output().equals(Buffer.concat([latin.subarray(0, latin.length - 4), Buffer.from('<n>Tr&#x1ee5;c é</n></r>', 'latin1')]))).toBe(true);

    const text = '<?xml version="1.0" encoding="UTF-16"?><r a="ễ"/>';
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    const u = editXml(be);
    u.doc.documentElement.appendChild(u.doc.createElement('k')).appendChild(u.doc.createTextNode('Ả'));
    const out = u.output();
    expect([...out.subarray(0, 2)]).toEqual([0xfe, 0xff]);
    expect(Buffer.from(out.subarray(2)).swap16().toString('utf16le')).toBe('<?xml version="1.0" encoding="UTF-16"?><r a="ễ"><k>Ả</k></r>');
  });
});
