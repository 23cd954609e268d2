/**
 * The XML-DSig digest method URIs we verify, by the hash Node names them with. Apart from `verify.ts` so that
 * what only needs the table (the CAdES validation's reading of XAdES-style validation-data references) does
 * not load the XML stack (xmldom, xpath) with it: `truc verify` of a PDF reads no XML.
 */
export const DIGEST_METHODS: Record<string, string> = {
  'http://www.w3.org/2000/09/xmldsig#sha1': 'sha1',
  'http://www.w3.org/2001/04/xmldsig-more#sha224': 'sha224',
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384': 'sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-224': 'sha3-224',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-256': 'sha3-256',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-384': 'sha3-384',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-512': 'sha3-512',
};
